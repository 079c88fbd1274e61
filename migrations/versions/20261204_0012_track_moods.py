"""track_moods: a track's moods, one row each, for filtering and counting

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

The moods were only inside `tracks.mood_tags` (JSON), which no index reaches. Existing tracks
get their rows from it: the main mood and the secondary ones, lower-cased, as publishing writes
them from now on.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _names(tags: Any) -> list[str]:
    # As empulse.catalog.service.mood_names at the time of writing (a migration keeps its own).
    if isinstance(tags, str):
        tags = json.loads(tags)
    if not isinstance(tags, dict):
        return []
    found = [tags.get("mood"), *(tags.get("secondaryMoods") or [])]
    names: list[str] = []
    for name in found:
        if isinstance(name, str) and name.strip() and name.strip().lower() not in names:
            names.append(name.strip().lower()[:60])
    return names


def upgrade() -> None:
    track_moods = op.create_table(
        "track_moods",
        sa.Column("track_id", sa.Uuid(), nullable=False),
        sa.Column("mood", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_track_moods_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("track_id", "mood", name=op.f("pk_track_moods")),
    )
    op.create_index(
        "ix_track_moods_mood_track_id", "track_moods", ["mood", "track_id"], unique=False
    )
    tracks = sa.table("tracks", sa.column("id", sa.Uuid()), sa.column("mood_tags", sa.JSON()))
    connection = op.get_bind()
    rows = [
        {"track_id": track_id, "mood": name}
        for track_id, tags in connection.execute(sa.select(tracks.c.id, tracks.c.mood_tags))
        for name in _names(tags)
    ]
    if rows:
        op.bulk_insert(track_moods, rows)


def downgrade() -> None:
    op.drop_index("ix_track_moods_mood_track_id", table_name="track_moods")
    op.drop_table("track_moods")
