"""search: the full-text indexes without a pending list, each exact name's rows in
popularity order, and `search_query` in PL/pgSQL (PostgreSQL)

A GIN index's pending list (`fastupdate`, on by default) takes new entries unsorted until it
holds 4 MB or a vacuum merges it, and every search reads all of it: after a million tracks
went in, 241 pages, 1.2 ms of a search that matched nothing. Every update of a track's play
count adds to it too (the count is indexed, so the row's new version is indexed again). With
`fastupdate` off, entries go straight into the index: a write costs a little more, a search
the same at every moment, as PostgreSQL's documentation recommends when response time
matters more than update speed. What the list holds now is merged.

The exact name's index on tracks and albums goes on in popularity order: a title shared by
hundreds of tracks ("Intro") answers its first page from the index instead of visiting and
sorting every one of them.

`search_query` becomes PL/pgSQL (search/ddl.py): the same tsquery, its statement planned once
a session instead of on every call. The vocabulary's trigram index, which a typo's lookup
reads, is rebuilt with larger signatures (search/ddl.py, `POSTGRES_VOCABULARY_INDEX`).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from empulse.search import ddl

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The kinds with a popularity order that includes the publication time.
PUBLISHED = ("tracks", "albums")

# search_query as revision 0021 made it.
SQL_QUERY_FUNCTION = """
    CREATE OR REPLACE FUNCTION search_query(words text[], fields text, prefix boolean)
    RETURNS tsquery LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$
      SELECT CASE WHEN bool_and(numnode(plainto_tsquery('simple', search_key(w))) > 0)
        THEN to_tsquery('simple', string_agg(
          quote_literal(search_key(w))
            || CASE WHEN (prefix AND length(w) > 1) OR fields <> ''
                 THEN ':' || CASE WHEN prefix AND length(w) > 1 THEN '*' ELSE '' END || fields
                 ELSE '' END,
          ' & ' ORDER BY n))
      END
      FROM unnest(words) WITH ORDINALITY AS u(w, n)
    $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ddl.SEARCHED_TABLES:
        op.execute(f"ALTER INDEX ix_{table}_search_vector SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('ix_{table}_search_vector')")
    for table in PUBLISHED:
        op.execute(f"DROP INDEX ix_{table}_search_key")
        op.execute(
            f"CREATE INDEX ix_{table}_search_key "
            f"ON {table} (search_key, status, play_count, published_at, id)"
        )
    op.execute(ddl.POSTGRES_QUERY_FUNCTION)
    op.execute("DROP INDEX ix_search_words_trigrams")
    op.execute(ddl.POSTGRES_VOCABULARY_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_search_words_trigrams")
    op.execute(
        "CREATE INDEX ix_search_words_trigrams ON search_words USING gist (word gist_trgm_ops)"
    )
    op.execute(SQL_QUERY_FUNCTION)
    for table in PUBLISHED:
        op.execute(f"DROP INDEX ix_{table}_search_key")
        op.execute(f"CREATE INDEX ix_{table}_search_key ON {table} (search_key)")
    for table in ddl.SEARCHED_TABLES:
        op.execute(f"ALTER INDEX ix_{table}_search_vector RESET (fastupdate)")
