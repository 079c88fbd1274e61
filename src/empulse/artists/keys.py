"""Key rotation for the encrypted W-9s: re-encrypt every one under the newest key.

The run walks the applications in id order, a batch per transaction, so an interrupted run
keeps what it committed and the next run picks up the rows still under an older key. A W-9 that
no configured key opens is reported by id and left untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

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


async def w9_keys_in_use(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, int]:
    """How many W-9s each key id encrypts."""
    async with sessionmaker() as session:
        return await repository.w9_count_by_key(session)


async def rotate_w9(
    sessionmaker: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    *,
    batch_size: int = 100,
    limit: int | None = None,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypt W-9s under `cipher`'s current key, at most `limit` of them this run."""
    report = RotationReport(key_id=cipher.current_key_id)
    after: uuid.UUID | None = None
    while limit is None or report.rotated + len(report.failed) < limit:
        done = report.rotated + len(report.failed)
        size = batch_size if limit is None else min(batch_size, limit - done)
        batch: list[ArtistApplication] = []
        async with session_scope(sessionmaker) as session:
            batch = await repository.applications_not_under_key(
                session, cipher.current_key_id, after=after, limit=size
            )
            for application in batch:
                try:
                    document = decrypt_w9(cipher, application)
                except DecryptionError as exc:
                    report.failed.append(
                        Failure(
                            application.id,
                            FieldCipher.key_id_of(application.w9_ciphertext),
                            str(exc),
                        )
                    )
                    continue
                encrypt_w9(cipher, application, document)
                report.rotated += 1
        if not batch:
            break
        after = batch[-1].id
        if progress is not None:
            progress(report)

    counts = await w9_keys_in_use(sessionmaker)
    report.current = counts.get(cipher.current_key_id, 0)
    report.remaining = sum(counts.values()) - report.current
    async with session_scope(sessionmaker) as session:
        audit.record(
            session,
            "w9_keys_rotated",
            CLI_META,
            key_id=report.key_id,
            rotated=report.rotated,
            failed=len(report.failed),
            remaining=report.remaining,
        )
    return report
