"""catalog list indexes: one per list and sort

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

At a million tracks a catalog page sorted and filtered the rows of a whole genre (160 ms for
`GET /tracks?genre=`, 140 ms for `GET /albums`); with an index on the equality columns, then
the sort key and the id, a page is an ordered range scan of its rows and the visibility joins
look up only those (2-3 ms; docs/performance.md, "Catalog"). `ix_tracks_genre` is a prefix of
one of them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "albums": {
        "ix_albums_status_published_at": ["status", "published_at", "id"],
        "ix_albums_status_title": ["status", "title", "id"],
        "ix_albums_status_genre_published_at": ["status", "genre", "published_at", "id"],
        "ix_albums_artist_status_published_at": ["artist_id", "status", "published_at", "id"],
    },
    "tracks": {
        "ix_tracks_status_published_at": ["status", "published_at", "id"],
        "ix_tracks_status_title": ["status", "title", "id"],
        "ix_tracks_status_genre_published_at": ["status", "genre", "published_at", "id"],
        "ix_tracks_artist_status_published_at": ["artist_id", "status", "published_at", "id"],
    },
    "artists": {
        "ix_artists_name": ["name", "id"],
        "ix_artists_created_at": ["created_at", "id"],
    },
}


def upgrade() -> None:
    for table, indexes in INDEXES.items():
        for name, columns in indexes.items():
            op.create_index(name, table, columns, unique=False)
    op.drop_index("ix_tracks_genre", table_name="tracks")


def downgrade() -> None:
    op.create_index("ix_tracks_genre", "tracks", ["genre"], unique=False)
    for table, indexes in INDEXES.items():
        for name in indexes:
            op.drop_index(name, table_name=table)
