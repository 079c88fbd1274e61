"""Account primitives every domain uses: find an account by its address, read what a sign-in
checks, lock an account's row before a write that points at it. Imports no domain; `users/`
builds the account's lifecycle (change of address, export, deletion) on top of it."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from empulse.core.db import HotRead
from empulse.core.emails import email_key
from empulse.models import User
from empulse.models.user import UserCredentials


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    """The account whose address has the same key as `email` (core/emails.email_key)."""
    result = await session.execute(_BY_EMAIL, {"key": email_key(email)})
    return result.scalar_one_or_none()


_BY_EMAIL = select(User).where(User.email_key == bindparam("key"))


async def credentials_by_email(engine: AsyncEngine, email: str) -> UserCredentials | None:
    """The account a sign-in checks, read on its own (no transaction: the sign-in's writes
    re-check what they depend on). A `HotRead`: every sign-in runs it."""
    return await _CREDENTIALS.first(engine, key=email_key(email))


_CREDENTIALS = HotRead[UserCredentials](
    select(
        User.id,
        User.email,
        User.name,
        User.role,
        User.password_hash,
        User.credentials_version,
        User.email_verified_at,
        User.disabled_at,
        User.locked_until,
        User.created_at,
    ).where(User.email_key == bindparam("key"))
)


async def lock_referenced(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Before a write that points at the user, lock the user's row first; False when the
    account is gone. The lock is `FOR NO KEY UPDATE` (what `with_for_update(key_share=True)`
    compiles to on PostgreSQL): stronger than the key-share lock the write's own foreign-key
    checks would take, so two such writes for one user also wait for each other.

    An account deletion holds the row `FOR UPDATE` (`users.repository.claim_for_deletion`), so
    this waits for it and then finds no row, instead of the write failing on a foreign key.
    Left to the write, the locks come in the order its statements and triggers take them (the
    artist's row, or the reviewed row, before the user's), which can deadlock with the
    deletion's cascade. On SQLite, a plain read: its writer lock orders the two."""
    locked = await session.execute(
        select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    )
    return locked.first() is not None
