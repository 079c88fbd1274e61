"""Key rotation for the encrypted W-9s: re-encrypt every one under the newest key.

The run walks the applications in id order, a batch per transaction, so an interrupted run
keeps what it committed and the next run picks up the rows still under an older key. A W-9 that
no configured key opens is reported by id and left untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from empulse.artists import repository
from empulse.artists.service import decrypt_w9, encrypt_w9
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.core.crypto import DecryptionError, FieldCipher
from empulse.core.db import session_scope
from empulse.models import ArtistApplication

CLI_META = RequestMeta(ip=None, user_agent="empulse-cli", request_id=None)


@dataclass(slots=True)
class Failure:
    row_id: uuid.UUID
    key_id: str
    reason: str


@dataclass(slots=True)
class RotationReport:
    key_id: str
    # What was rotated ("W-9s", "app passwords"), for the command's output.
    what: str = "W-9s"
    rotated: int = 0
    failed: list[Failure] = field(default_factory=list)
    # After the run: W-9s under the newest key, and under any other key (failed or not reached).
    current: int = 0
    remaining: int = 0


@dataclass(frozen=True, slots=True)
class Encrypted:
    """One kind of encrypted row, as a rotation walks it (`W9S` here; `subsonic.keys`'s
    `APP_PASSWORDS`)."""

    what: str  # for the report: "W-9s", "app passwords"
    event: str  # the audit event of a run
    # (session, current key id, after id, limit) -> rows under another key, in id order, locked
    batch: Callable[[AsyncSession, str, uuid.UUID | None, int], Awaitable[Sequence[Any]]]
    # Re-encrypt one row under the cipher's current key; DecryptionError when it cannot.
    reencrypt: Callable[[FieldCipher, Any], None]
    key_of: Callable[[Any], str]
    # How many rows each key id encrypts.
    count_by_key: Callable[[AsyncSession], Awaitable[dict[str, int]]]


async def rotate(
    sessionmaker: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    kind: Encrypted,
    *,
    batch_size: int = 100,
    limit: int | None = None,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypt rows of `kind` under `cipher`'s current key, at most `limit` this run."""
    report = RotationReport(key_id=cipher.current_key_id, what=kind.what)
    after: uuid.UUID | None = None
    while limit is None or report.rotated + len(report.failed) < limit:
        done = report.rotated + len(report.failed)
        size = batch_size if limit is None else min(batch_size, limit - done)
        async with session_scope(sessionmaker) as session:
            batch = await kind.batch(session, cipher.current_key_id, after, size)
            for row in batch:
                try:
                    kind.reencrypt(cipher, row)
                except DecryptionError as exc:
                    report.failed.append(Failure(row.id, kind.key_of(row), str(exc)))
                    continue
                report.rotated += 1
        if not batch:
            break
        after = batch[-1].id
        if progress is not None:
            progress(report)

    async with sessionmaker() as session:
        counts = await kind.count_by_key(session)
    report.current = counts.get(cipher.current_key_id, 0)
    report.remaining = sum(counts.values()) - report.current
    async with session_scope(sessionmaker) as session:
        audit.record(
            session,
            kind.event,
            CLI_META,
            key_id=report.key_id,
            rotated=report.rotated,
            failed=len(report.failed),
            remaining=report.remaining,
        )
    return report


def _reencrypt_w9(cipher: FieldCipher, application: ArtistApplication) -> None:
    encrypt_w9(cipher, application, decrypt_w9(cipher, application))


W9S = Encrypted(
    what="W-9s",
    event="w9_keys_rotated",
    batch=lambda session, key_id, after, limit: repository.applications_not_under_key(
        session, key_id, after=after, limit=limit
    ),
    reencrypt=_reencrypt_w9,
    key_of=lambda application: FieldCipher.key_id_of(application.w9_ciphertext),
    count_by_key=repository.w9_count_by_key,
)


async def keys_in_use(
    sessionmaker: async_sessionmaker[AsyncSession], kind: Encrypted
) -> dict[str, int]:
    """How many rows of `kind` each key id encrypts."""
    async with sessionmaker() as session:
        return await kind.count_by_key(session)
