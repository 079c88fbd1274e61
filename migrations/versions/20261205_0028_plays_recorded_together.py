"""plays: `record_plays` reads and writes a call's plays together, and bounds its overlap
check by the longest play (PostgreSQL)

Each play of a call took four statements inside the function: its earlier `playId`, the plays
it could overlap, its row and its tally. The function now reads what it needs for all of them
in one statement (the earlier `playId`s, and for each play whether one recorded before
overlaps it), decides the plays against each other in order, and writes the new rows with
their tallies in one more: a batch of 50 plays runs four statements instead of 202.

The overlap check read every play of the listener that ended after the new one started: for a
play reported days late (an offline player catching up), all the listener's plays since. It
now stops at the plays that end less than the longest play there can be (24 hours) after the
new one ends, which are all that can overlap it. What the function decides is unchanged
(plays/ddl.py).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from empulse.plays import ddl

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# record_plays as revision 0027 made it.
RECORD_PLAYS_0027 = """
CREATE OR REPLACE FUNCTION record_plays(
    listener uuid,
    now timestamptz,
    play_ids uuid[],
    track_ids uuid[],
    starts timestamptz[],
    played integer[],
    acceptable boolean[],
    source_types text[],
    source_ids uuid[],
    durations jsonb,
    qualifying_ms integer,
    tolerance_ms integer
)
RETURNS TABLE (
    n integer,
    outcome text,
    track_id uuid,
    started_at timestamptz,
    ms_played integer,
    qualified boolean,
    reason text,
    duration_ms integer
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    i integer;
    places integer[];
    prior record;
    ends timestamptz;
    recorded uuid;
BEGIN
    PERFORM 1 FROM users WHERE users.id = listener FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        n := 0;
        outcome := 'gone';
        RETURN NEXT;
        RETURN;
    END IF;
    IF cardinality(starts) = 1 THEN
        places := ARRAY[1];  -- one play: no statement to order it
    ELSE
        SELECT array_agg(s.o ORDER BY s.t, s.o) INTO places
        FROM unnest(starts) WITH ORDINALITY AS s(t, o);
    END IF;
    FOREACH i IN ARRAY places LOOP
        n := i;
        track_id := track_ids[i];
        started_at := starts[i];
        ms_played := played[i];
        qualified := NULL;
        reason := NULL;
        duration_ms := NULL;
        SELECT p.track_id, p.started_at, p.ms_played, p.qualified, p.reason INTO prior
        FROM plays p
        WHERE p.user_id = listener AND p.play_id = play_ids[i];
        IF FOUND THEN
            IF prior.track_id = track_ids[i] THEN
                outcome := 'earlier';
                started_at := prior.started_at;
                ms_played := prior.ms_played;
                qualified := prior.qualified;
                reason := prior.reason;
            ELSE
                outcome := 'other_track';
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        duration_ms := (durations ->> track_ids[i]::text)::integer;
        IF duration_ms IS NULL THEN
            outcome := 'not_found';
        ELSIF NOT acceptable[i] OR played[i] > duration_ms + tolerance_ms THEN
            outcome := 'refused';
        ELSE
            outcome := 'recorded';
            ends := starts[i] + played[i] * interval '1 millisecond';
            IF played[i] < least(qualifying_ms, duration_ms) THEN
                reason := 'too_short';
            ELSIF EXISTS (
                SELECT FROM plays p
                WHERE p.user_id = listener
                  AND p.ended_at > starts[i]
                  AND p.started_at < ends
            ) THEN
                reason := 'overlapping';
            END IF;
            qualified := reason IS NULL;
            recorded := gen_random_uuid();
            INSERT INTO plays (id, user_id, play_id, track_id, started_at, ended_at, ms_played,
                               source_type, source_id, qualified, reason, created_at)
            VALUES (recorded, listener, play_ids[i], track_ids[i], starts[i], ends, played[i],
                    source_types[i], source_ids[i], qualified, reason, now);
            IF qualified THEN
                INSERT INTO play_tallies (play_id, track_id) VALUES (recorded, track_ids[i]);
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ddl.RECORD_PLAYS_ONE_LISTENER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RECORD_PLAYS_0027)
