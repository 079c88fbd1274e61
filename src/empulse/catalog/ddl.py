"""The catalog's version: a number that every change a listener could see in the catalog moves,
in the changing transaction, by triggers (so no code path can forget it). Rendered public pages
are cached under it (web/caching.PageCache); a page cached under an older number is never
served again.

What moves it: any row of tracks, albums, artists or track_moods written; an account disabled
or enabled, or deleted; a media pipeline's loudness or renditions. PostgreSQL: deferred
constraint triggers, so the version's row is locked only at commit, after every other lock the
transaction takes (no deadlock with another writer), and moved once per transaction however
many rows changed; TRUNCATE moves it too. SQLite: a trigger per row and statement kind (one
writer at a time, so nothing to order).

What does not: the play counters (`COUNTERS`), which the plays' fold writes every two seconds
while anyone listens, and the popularity that a pass copies from them every minute. Were
they to move it, no page would be kept longer than that. Kept pages expire instead after the
time shared caches may keep them anyway (web/caching.PUBLIC_MAX_AGE, 15 s), so a count shows
at most that late, while what a listener may see (a take-down, a disablement) still shows at
once. On PostgreSQL the fold's and the pass's transactions mark the version as already moved
(`POSTGRES_COUNTERS_ONLY`), so its triggers skip them; they write nothing else. On SQLite the
triggers on those tables skip an update that changes a counter (only the fold and the pass
do, and they change nothing else).

A later migration that rebuilds one of these tables on SQLite (Alembic's batch mode) drops its
triggers with it: it must run `SQLITE_DROP_TRIGGERS` first and `SQLITE_TRIGGERS` after, as
search/ddl.py says of its own.
"""

from __future__ import annotations

_ANY = ("INSERT", "UPDATE", "DELETE")
# table -> the writes that change what a listener sees (a new account or a failed sign-in
# does not; a pipeline row shows nothing until it has loudness or renditions)
WATCHED: dict[str, tuple[str, ...]] = {
    "tracks": _ANY,
    "albums": _ANY,
    "artists": _ANY,
    "track_moods": _ANY,
    "users": ("UPDATE OF disabled_at", "DELETE"),
    "media_pipelines": ("UPDATE OF loudness, renditions", "DELETE"),
}

# table -> its counter columns, which the plays' fold and popularity pass alone write
COUNTERS = {
    "tracks": ("play_count", "popularity"),
    "albums": ("play_count", "popularity"),
    "artists": ("play_count",),
}

# Run first in a transaction that writes only counters (plays/repository.count): the triggers
# then take the version as already moved in it.
POSTGRES_COUNTERS_ONLY = "SELECT set_config('empulse.catalog_changed', 'on', true)"

_BUMP = (
    "INSERT INTO catalog_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = catalog_version.version + 1"
)

POSTGRES_FUNCTION = f"""
CREATE FUNCTION catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Once per transaction: the setting is local to it.
    IF current_setting('empulse.catalog_changed', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('empulse.catalog_changed', 'on', true);
        {_BUMP};
    END IF;
    RETURN NULL;
END $$
"""


POSTGRES_TRIGGERS = tuple(
    statement
    for table, events in WATCHED.items()
    for statement in (
        f"CREATE CONSTRAINT TRIGGER catalog_changed AFTER {' OR '.join(events)} ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catalog_changed()",
        f"CREATE TRIGGER catalog_truncated AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION catalog_changed()",
    )
)

POSTGRES_DROP = (
    *(
        f"DROP TRIGGER IF EXISTS {name} ON {table}"
        for table in WATCHED
        for name in ("catalog_changed", "catalog_truncated")
    ),
    "DROP FUNCTION IF EXISTS catalog_changed()",
)


def _sqlite_trigger(table: str, event: str) -> str:
    counters = COUNTERS.get(table, ()) if event == "UPDATE" else ()
    when = " AND ".join(f"OLD.{counter} IS NEW.{counter}" for counter in counters)
    when = f"WHEN {when} " if when else ""
    return (
        f"CREATE TRIGGER catalog_changed_{table}_{event.split()[0].lower()} AFTER {event} "
        f"ON {table} {when}BEGIN {_BUMP}; END"
    )


SQLITE_TRIGGERS = tuple(
    _sqlite_trigger(table, event) for table, events in WATCHED.items() for event in events
)

SQLITE_DROP_TRIGGERS = tuple(
    f"DROP TRIGGER IF EXISTS catalog_changed_{table}_{event.split()[0].lower()}"
    for table, events in WATCHED.items()
    for event in events
)
