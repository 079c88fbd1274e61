"""Rules about users that do not belong to a single request (the CLI uses them too)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.core.db import utcnow
from empulse.core.emails import normalise_email
from empulse.core.passwords import check_password_policy, hash_password
from empulse.models import User, UserRole
from empulse.users import repository


@dataclass(frozen=True, slots=True)
class AdminResult:
    user: User
    created: bool


async def create_or_promote_admin(
    session: AsyncSession, *, email: str, password: str | None, name: str | None = None
) -> AdminResult:
    """Make `email` an admin: promote the existing user, or create a verified admin account.

    There is no default admin: this (through `empulse create-admin`) is the only way to make
    the first one (SECURITY.md "Passwords and login"). Never commits.
    """
    normalised = normalise_email(email)
    existing = await repository.get_by_email(session, normalised)
    if existing is not None:
        existing.role = UserRole.ADMIN.value
        if password:
            check_password_policy(password, user_inputs=[normalised, existing.name])
            existing.password_hash = hash_password(password)
        await session.flush()
        return AdminResult(existing, created=False)
    if not password:
        raise ValueError("a new admin account needs a password")
    display_name = name or normalised.split("@", 1)[0]
    check_password_policy(password, user_inputs=[normalised, display_name])
    user = repository.add(
        session,
        User(
            email=normalised,
            name=display_name[:100],
            password_hash=hash_password(password),
            role=UserRole.ADMIN.value,
            email_verified_at=utcnow(),
        ),
    )
    await session.flush()
    return AdminResult(user, created=True)
