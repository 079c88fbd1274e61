from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from empulse.catalog.schemas import ImageOut, TrackOut
from empulse.core.schemas import ONE_LINE, OutSchema, Schema, with_examples

MAX_ENTRIES = 10_000
MAX_ADD = 100

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), ONE_LINE
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), ONE_LINE]
SnapshotId = Annotated[
    str | None,
    Field(
        default=None,
        max_length=32,
        description="The version this change was made against (or send `If-Match`); when the "
        "playlist has changed since, nothing is applied and the answer is 412.",
    ),
]


class PlaylistIn(Schema):
    model_config = with_examples(
        {"name": "Night drives", "description": "For the motorway after midnight.", "public": True}
    )

    name: Name
    description: Description | None = None
    public: bool = True
    collaborative: bool = Field(
        default=False, description="Whether collaborators (invited by link) may edit entries."
    )


class PlaylistChangesIn(Schema):
    """Only the fields sent change; `description: null` clears it."""

    model_config = with_examples(
        {"name": "Night drives, vol. 2", "public": False},
        {"collaborative": True, "snapshotId": "kM2x0Qv7bT9pLw3e"},
    )

    name: Name | None = None
    description: Description | None = None
    public: bool | None = None
    collaborative: bool | None = None
    snapshot_id: SnapshotId


class EntriesIn(Schema):
    model_config = with_examples({"trackIds": ["0b9c5a1e-3f2d-4c6b-8a7e-1d2f3c4b5a69"]})

    track_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ADD)
    position: int | None = Field(
        default=None, ge=0, description="Where the first goes (0 is the top); the end if absent."
    )
    snapshot_id: SnapshotId


class EntriesOutIn(Schema):
    model_config = with_examples({"entryIds": ["9d4f1c2e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"]})

    entry_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ADD)
    snapshot_id: SnapshotId


class ReorderIn(Schema):
    """Spotify's reorder: the `rangeLength` entries from `rangeStart` move to just before the
    entry now at `insertBefore` (`insertBefore` = the length moves them to the end)."""

    model_config = with_examples({"rangeStart": 5, "rangeLength": 2, "insertBefore": 0})

    range_start: int = Field(ge=0)
    range_length: int = Field(default=1, ge=1)
    insert_before: int = Field(ge=0)
    snapshot_id: SnapshotId


class UserRef(OutSchema):
    id: uuid.UUID
    name: str


class PlaylistOut(OutSchema):
    id: uuid.UUID
    name: str
    description: str | None
    public: bool
    collaborative: bool
    owner: UserRef | None = Field(
        description="Null to others when the owner's profile is not public."
    )
    snapshot_id: str = Field(description="Changes with every change; also the `ETag`.")
    track_count: int = Field(description="Entries, available or not.")
    follower_count: int
    images: list[ImageOut] = Field(description="Its own cover, largest first; empty without one.")
    track_covers: list[ImageOut] = Field(
        description="Without a cover of its own: the covers (300 px) of the albums of its "
        "first tracks, up to four, for a mosaic."
    )
    can_edit: bool = Field(description="Whether the caller may add, remove and reorder.")
    followed: bool | None = Field(description="Whether the caller follows it; null anonymously.")
    created_at: datetime
    updated_at: datetime


class SnapshotOut(OutSchema):
    snapshot_id: str


class EntryOut(OutSchema):
    entry_id: uuid.UUID
    position: int
    added_at: datetime
    added_by: UserRef | None = Field(
        description="Null once that account is gone, or to others when its profile is not public."
    )
    available: bool = Field(
        description="False while the track is taken down; the entry keeps its place."
    )
    track: TrackOut | None = Field(description="As the catalog shows it; null when unavailable.")


Relation = Literal["owner", "collaborator", "follower"]


class MyPlaylistOut(PlaylistOut):
    relation: Relation


class InviteOut(OutSchema):
    url: str = Field(description="Shown once: the single-use link to send to one person.")
    token: str
    expires_at: datetime


class CollaboratorOut(OutSchema):
    user: UserRef
    since: datetime


class ExportedEntry(Schema):
    entry_id: uuid.UUID
    track_id: uuid.UUID
    added_at: datetime


class ExportedPlaylist(Schema):
    id: uuid.UUID
    name: str
    description: str | None
    public: bool
    collaborative: bool
    created_at: datetime
    entries: list[ExportedEntry]


class ExportedCollaboration(Schema):
    playlist_id: uuid.UUID
    name: str
    since: datetime


class ExportedPlaylists(Schema):
    owned: list[ExportedPlaylist]
    collaborating: list[ExportedCollaboration]
