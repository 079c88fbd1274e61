"""The plays' database objects on PostgreSQL, for the migration that installs them.

`record_plays` decides and records a listener's plays in one statement, each as
plays/service.py's `_decide` does on the other databases; the two must agree (the tests of
plays run on both). The rules' numbers (30 s, the tolerance) are arguments,
given by plays/service.py, and the tracks' durations too: the caller reads them with the
catalog's visibility rules in the same statement (plays/repository.py), so those rules are
written once.

Its statements run one after the other, each with a fresh snapshot (the function is
`VOLATILE`): the listener's row is locked first, so what a concurrent report of the same
listener wrote is seen by the reads after it, and a play earlier in the same call is seen by
the later ones (the same `playId` twice counts once; a later play overlaps an earlier one).
Called on its own, the statement is its own transaction: one round trip instead of BEGIN,
four statements and COMMIT.

Per play, in the order of their starts (ties in the order given), a row: `n`, its place
(1-based) among the arguments; `outcome`, one of
- `recorded`: written now, with its `qualified` and `reason` (a qualified one with its tally,
  for the fold: plays/tasks.py);
- `earlier`: this `playId` was recorded before, for this track: what was recorded then;
- `other_track`: this `playId` was recorded before for another track;
- `not_found`: no such track that the listener can see;
- `refused`: an impossible report (`duration_ms` is the track's, for the message): its start
  was found implausible by the caller (`acceptable` false), or it played longer than the track
  and the tolerance;
and one row `(0, 'gone')` alone when the listener's account no longer exists.
"""

RECORD_PLAYS = """
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

DROP_RECORD_PLAYS = (
    "DROP FUNCTION IF EXISTS record_plays(uuid, timestamptz, uuid[], uuid[], timestamptz[], "
    "integer[], boolean[], text[], uuid[], jsonb, integer, integer)"
)
