"""Key rotation for app passwords: re-encrypt every one under the newest key, as
`artists/keys.py` does for W-9s (a batch per transaction; resumable; undecryptable rows are
reported and left as they are)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from empulse.artists.keys import CLI_META, Failure, RotationReport
from empulse.audit import service as audit
from empulse.core.crypto import DecryptionError, FieldCipher
from empulse.core.db import session_scope
from empulse.subsonic import repository


async def app_password_keys_in_use(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, int]:
    async with sessionmaker() as session:
        return await repository.app_password_count_by_key(session)


async def rotate_app_passwords(
    sessionmaker: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    *,
    batch_size: int = 100,
    limit: int | None = None,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    report = RotationReport(key_id=cipher.current_key_id, what="app passwords")
    after: uuid.UUID | None = None
    while limit is None or report.rotated + len(report.failed) < limit:
        done = report.rotated + len(report.failed)
        size = batch_size if limit is None else min(batch_size, limit - done)
        async with session_scope(sessionmaker) as session:
            batch = await repository.app_passwords_not_under_key(
                session, cipher.current_key_id, after=after, limit=size
            )
            for row in batch:
                try:
                    secret = cipher.decrypt(row.secret_ciphertext, str(row.id))
                except DecryptionError as exc:
                    report.failed.append(Failure(row.id, row.key_id, str(exc)))
                    continue
                row.secret_ciphertext = cipher.encrypt(secret, str(row.id))
                row.key_id = cipher.current_key_id
                report.rotated += 1
        if not batch:
            break
        after = batch[-1].id
        if progress is not None:
            progress(report)
    counts = await app_password_keys_in_use(sessionmaker)
    report.current = counts.get(cipher.current_key_id, 0)
    report.remaining = sum(counts.values()) - report.current
    async with session_scope(sessionmaker) as session:
        audit.record(
            session,
            "app_password_keys_rotated",
            CLI_META,
            key_id=report.key_id,
            rotated=report.rotated,
            failed=len(report.failed),
            remaining=report.remaining,
        )
    return report
