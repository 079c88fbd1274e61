"""What submissions/ keeps about an account: its releases, their rows and their files. The rows
go with the account (the database's cascade); the files by jobs enqueued in the deletion's
transaction, so they go once it has committed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts.data import AccountData
from empulse.models import User
from empulse.services import Services
from empulse.submissions import repository
from empulse.submissions.schemas import ExportedSubmission
from empulse.submissions.service import submission_out
from empulse.submissions.upload import enqueue_object_deletion


async def _releases(
    session: AsyncSession, services: Services, user: User
) -> list[ExportedSubmission]:
    releases = await repository.submissions_of(session, user.id)
    files = await repository.files_of(session, [release.id for release in releases])
    return [
        ExportedSubmission(
            **submission_out(services, release, files[release.id], signed=True).model_dump(),
            payload=release.payload,
        )
        for release in releases
    ]


async def _delete_files(session: AsyncSession, _: Services, user: User) -> None:
    enqueue_object_deletion(session, await repository.storage_keys_of_user(session, user.id))


SUBMISSIONS = AccountData(
    key="submissions",
    schema=list[ExportedSubmission],
    description="Every release submitted, with its details and links to its files.",
    export=_releases,
    before_deletion=_delete_files,
)
