"""The plays' database objects on PostgreSQL, for the migration that installs them.

`record_plays` decides and records plays in one statement, each as plays/service.py's
`_decide` does on the other databases; the two must agree (the tests of plays run on both).
A call carries the plays of any number of listeners (`listeners` names each play's): the
service sends the plays reported while its previous call was in flight together (plays/
service.py), so under load one statement records many requests' plays. The rules' numbers
(30 s, the tolerance) are arguments, given by plays/service.py, and the tracks' durations too:
the caller reads them with the catalog's visibility rules in the same statement
(plays/repository.py), so those rules are written once.

Three statements, whatever the number of plays and listeners (a fourth puts several plays in
order): the listeners' rows are locked; then one read takes the plays already recorded under
these `playId`s and, for each play, whether one its listener recorded before overlaps it; each
listener's plays are decided in the order of their starts, each also against that listener's
plays of the call decided before it (the same `playId` twice counts once; a later play
overlapping an earlier one is not counted); one write inserts the new rows with a tally beside
each qualified one. Each statement has a fresh snapshot (the function is `VOLATILE`), and the
locks come first, so the read sees what a concurrent report of the same listener wrote. Called
on its own, the statement is its own transaction: one round trip instead of BEGIN, the
statements and COMMIT.

Per play, by listener and then in the order of their starts (ties in the order given), a row:
`n`, its place (1-based) among the arguments; `outcome`, one of
- `recorded`: written now, with its `qualified` and `reason` (a qualified one with its tally,
  for the fold: plays/tasks.py);
- `earlier`: this `playId` was recorded before by its listener, for this track: what was
  recorded then;
- `other_track`: this `playId` was recorded before for another track;
- `not_found`: no such track that the listener can see;
- `refused`: an impossible report (`duration_ms` is the track's, for the message): its start
  was found implausible by the caller (`acceptable` false), or it played longer than the track
  and the tolerance;
- `gone`: its listener's account no longer exists.
"""

from empulse.models.play import LONGEST_PLAY_MS

# A new row's key, time-ordered as core/db.time_ordered_id makes it (a UUID version 7): the
# time in whole milliseconds (rounded down, as there) over the first 6 bytes of a random UUID,
# and its version set from 4 to 7.
NEW_PLAY_ID = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) "
    "FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"
)

# The longest play (models/play.py) is written in where the function declares it, and the new
# rows' key where they are inserted.
RECORD_PLAYS = """
CREATE OR REPLACE FUNCTION record_plays(
    listeners uuid[],
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
    -- No play lasts longer (models/play.py), so a play that overlaps another ends less than
    -- this after the other's end.
    longest_ms CONSTANT integer := LONGEST_PLAY_MS;
    i integer;
    j integer;
    k integer;
    places integer[];
    present uuid[];
    ends timestamptz;
    -- Per play (by its place among the arguments): the play its listener recorded before this
    -- call under its playId (NULL if none), and whether one recorded before overlaps it.
    priors plays[];
    overlapped boolean[];
    -- The plays this call records: their playIds, places, qualification and reason.
    new_ids uuid[] := '{}';
    new_places integer[] := '{}';
    new_qualified boolean[] := '{}';
    new_reasons text[] := '{}';
    -- The listener whose plays are being decided, whether their account exists, and where
    -- their plays recorded by this call begin among `new_ids`.
    listener uuid;
    alive boolean;
    first_new integer;
    -- The latest end among the listener's plays recorded by this call that started before
    -- `current_start`, and among those that started at it (a listener's plays come in the
    -- order of their starts).
    latest_before timestamptz;
    latest_here timestamptz;
    current_start timestamptz;
BEGIN
    -- The listeners' rows locked in the order of their ids, so calls that name the same
    -- listeners wait for each other and never deadlock; a listener whose account is gone has
    -- no row.
    SELECT coalesce(array_agg(u.id), '{}') INTO present
    FROM (
        SELECT users.id FROM users
        WHERE users.id = ANY((SELECT listeners)::uuid[])
        ORDER BY users.id
        FOR NO KEY UPDATE
    ) AS u;
    IF cardinality(starts) = 1 THEN
        places := ARRAY[1];  -- one play: no statement to order it
    ELSE
        SELECT array_agg(s.o ORDER BY s.l, s.t, s.o) INTO places
        FROM unnest(listeners, starts) WITH ORDINALITY AS s(l, t, o);
    END IF;
    -- One read, two lookups a play: the play its listener recorded before under its playId
    -- (the unique index on listener and playId, probed per play: a subquery of its own, which
    -- the planner cannot turn into a scan of all the listener's plays), and whether a play
    -- recorded before overlaps it (a range of the index on listener, end, start: the plays
    -- ending after it starts, and less than the longest play after it ends). An implausible
    -- start is refused below and never looked at: its end could overflow. The arrays are
    -- read through subqueries, so no plan knows their lengths and the statement keeps one
    -- plan (planned with them, as PostgreSQL's plan cache would try, it was planned again
    -- on every call).
    SELECT array_agg(
               (SELECT p FROM plays p WHERE p.user_id = s.l AND p.play_id = s.id)
               ORDER BY s.o
           ),
           array_agg(
               CASE WHEN acceptable[s.o] THEN EXISTS (
                   SELECT FROM plays p
                   WHERE p.user_id = s.l
                     AND p.ended_at > s.t
                     AND p.ended_at < s.t + (s.ms + longest_ms) * interval '1 millisecond'
                     AND p.started_at < s.t + s.ms * interval '1 millisecond'
               ) ELSE false END
               ORDER BY s.o
           )
    INTO priors, overlapped
    FROM unnest((SELECT listeners), (SELECT play_ids), (SELECT starts), (SELECT played))
        WITH ORDINALITY AS s(l, id, t, ms, o);
    FOREACH i IN ARRAY places LOOP
        n := i;
        track_id := track_ids[i];
        started_at := starts[i];
        ms_played := played[i];
        qualified := NULL;
        reason := NULL;
        duration_ms := NULL;
        IF listener IS DISTINCT FROM listeners[i] THEN  -- the next listener's plays
            listener := listeners[i];
            alive := listener = ANY(present);
            first_new := cardinality(new_ids) + 1;
            latest_before := NULL;
            latest_here := NULL;
            current_start := NULL;
        END IF;
        IF NOT alive THEN
            outcome := 'gone';
            RETURN NEXT;
            CONTINUE;
        END IF;
        k := array_position(new_ids, play_ids[i], first_new);
        IF k IS NOT NULL THEN  -- the listener recorded this playId earlier in this call
            j := new_places[k];
            IF track_ids[j] = track_ids[i] THEN
                outcome := 'earlier';
                started_at := starts[j];
                ms_played := played[j];
                qualified := new_qualified[k];
                reason := new_reasons[k];
            ELSE
                outcome := 'other_track';
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- ... or before it (a row is NOT NULL only when all its columns are: the key tells)
        IF (priors[i]).id IS NOT NULL THEN
            IF (priors[i]).track_id = track_ids[i] THEN
                outcome := 'earlier';
                started_at := (priors[i]).started_at;
                ms_played := (priors[i]).ms_played;
                qualified := (priors[i]).qualified;
                reason := (priors[i]).reason;
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
            IF current_start IS NULL OR starts[i] > current_start THEN
                latest_before := greatest(latest_before, latest_here);
                latest_here := NULL;
                current_start := starts[i];
            END IF;
            IF played[i] < least(qualifying_ms, duration_ms) THEN
                reason := 'too_short';
            -- Overlapping: a play recorded before this call, or one of the listener's in this
            -- call that ends after this one starts (one that started at the same moment only
            -- if this one lasts).
            ELSIF overlapped[i]
                OR latest_before > starts[i]
                OR (ends > starts[i] AND latest_here > starts[i]) THEN
                reason := 'overlapping';
            END IF;
            qualified := reason IS NULL;
            latest_here := greatest(latest_here, ends);
            new_ids := new_ids || play_ids[i];
            new_places := new_places || i;
            new_qualified := new_qualified || qualified;
            new_reasons := new_reasons || reason;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF cardinality(new_places) > 0 THEN
        -- One write: the new rows, and a tally beside each qualified one.
        WITH recorded AS (
            INSERT INTO plays (id, user_id, play_id, track_id, started_at, ended_at, ms_played,
                               source_type, source_id, qualified, reason, created_at)
            SELECT NEW_PLAY_ID, listeners[r.i], play_ids[r.i], track_ids[r.i],
                   starts[r.i], starts[r.i] + played[r.i] * interval '1 millisecond',
                   played[r.i], source_types[r.i], source_ids[r.i], r.q, r.why, now
            FROM unnest(new_places, new_qualified, new_reasons) AS r(i, q, why)
            RETURNING plays.id, plays.track_id, plays.qualified
        )
        INSERT INTO play_tallies (play_id, track_id)
        SELECT recorded.id, recorded.track_id FROM recorded WHERE recorded.qualified;
    END IF;
END
$$
""".replace("LONGEST_PLAY_MS", str(LONGEST_PLAY_MS)).replace("NEW_PLAY_ID", NEW_PLAY_ID)

# Before migration 0029: one listener's plays a call. Installed by migrations 0027 and 0028, and
# kept by 0029 for the processes of an earlier release still running while it is applied.
RECORD_PLAYS_ONE_LISTENER = """
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
    -- No play lasts longer (models/play.py), so a play that overlaps another ends less than
    -- this after the other's end.
    longest_ms CONSTANT integer := LONGEST_PLAY_MS;
    i integer;
    j integer;
    k integer;
    places integer[];
    ends timestamptz;
    -- Per play (by its place among the arguments): the play recorded before this call under
    -- its playId (NULL if none), and whether one recorded before overlaps it.
    priors plays[];
    overlapped boolean[];
    -- The plays this call records: their playIds, places, qualification and reason.
    new_ids uuid[] := '{}';
    new_places integer[] := '{}';
    new_qualified boolean[] := '{}';
    new_reasons text[] := '{}';
    -- The latest end among this call's recorded plays that started before `current_start`,
    -- and among those that started at it (the plays come in the order of their starts).
    latest_before timestamptz;
    latest_here timestamptz;
    current_start timestamptz;
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
    -- One read, two lookups a play: the play recorded before under its playId (the
    -- listener's unique index, probed per play: a subquery of its own, which the planner
    -- cannot turn into a scan of all the listener's plays), and whether a play recorded
    -- before overlaps it (a range of the index on listener, end, start: the plays ending
    -- after it starts, and less than the longest play after it ends). An implausible
    -- start is refused below and never looked at: its end could overflow. The arrays are
    -- read through subqueries, so no plan knows their lengths and the statement keeps one
    -- plan (planned with them, as PostgreSQL's plan cache would try, it was planned again
    -- on every call).
    SELECT array_agg(
               (SELECT p FROM plays p WHERE p.user_id = listener AND p.play_id = s.id)
               ORDER BY s.o
           ),
           array_agg(
               CASE WHEN acceptable[s.o] THEN EXISTS (
                   SELECT FROM plays p
                   WHERE p.user_id = listener
                     AND p.ended_at > s.t
                     AND p.ended_at < s.t + (s.ms + longest_ms) * interval '1 millisecond'
                     AND p.started_at < s.t + s.ms * interval '1 millisecond'
               ) ELSE false END
               ORDER BY s.o
           )
    INTO priors, overlapped
    FROM unnest((SELECT play_ids), (SELECT starts), (SELECT played))
        WITH ORDINALITY AS s(id, t, ms, o);
    FOREACH i IN ARRAY places LOOP
        n := i;
        track_id := track_ids[i];
        started_at := starts[i];
        ms_played := played[i];
        qualified := NULL;
        reason := NULL;
        duration_ms := NULL;
        k := array_position(new_ids, play_ids[i]);
        IF k IS NOT NULL THEN  -- this playId was recorded earlier in this call
            j := new_places[k];
            IF track_ids[j] = track_ids[i] THEN
                outcome := 'earlier';
                started_at := starts[j];
                ms_played := played[j];
                qualified := new_qualified[k];
                reason := new_reasons[k];
            ELSE
                outcome := 'other_track';
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- ... or before it (a row is NOT NULL only when all its columns are: the key tells)
        IF (priors[i]).id IS NOT NULL THEN
            IF (priors[i]).track_id = track_ids[i] THEN
                outcome := 'earlier';
                started_at := (priors[i]).started_at;
                ms_played := (priors[i]).ms_played;
                qualified := (priors[i]).qualified;
                reason := (priors[i]).reason;
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
            IF current_start IS NULL OR starts[i] > current_start THEN
                latest_before := greatest(latest_before, latest_here);
                latest_here := NULL;
                current_start := starts[i];
            END IF;
            IF played[i] < least(qualifying_ms, duration_ms) THEN
                reason := 'too_short';
            -- Overlapping: a play recorded before this call, or one of this call's that
            -- ends after this one starts (one that started at the same moment only if this
            -- one lasts).
            ELSIF overlapped[i]
                OR latest_before > starts[i]
                OR (ends > starts[i] AND latest_here > starts[i]) THEN
                reason := 'overlapping';
            END IF;
            qualified := reason IS NULL;
            latest_here := greatest(latest_here, ends);
            new_ids := new_ids || play_ids[i];
            new_places := new_places || i;
            new_qualified := new_qualified || qualified;
            new_reasons := new_reasons || reason;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF cardinality(new_places) > 0 THEN
        -- One write: the new rows, and a tally beside each qualified one.
        WITH recorded AS (
            INSERT INTO plays (id, user_id, play_id, track_id, started_at, ended_at, ms_played,
                               source_type, source_id, qualified, reason, created_at)
            SELECT gen_random_uuid(), listener, play_ids[r.i], track_ids[r.i], starts[r.i],
                   starts[r.i] + played[r.i] * interval '1 millisecond', played[r.i],
                   source_types[r.i], source_ids[r.i], r.q, r.why, now
            FROM unnest(new_places, new_qualified, new_reasons) AS r(i, q, why)
            RETURNING plays.id, plays.track_id, plays.qualified
        )
        INSERT INTO play_tallies (play_id, track_id)
        SELECT recorded.id, recorded.track_id FROM recorded WHERE recorded.qualified;
    END IF;
END
$$
""".replace("LONGEST_PLAY_MS", str(LONGEST_PLAY_MS))

_ARGUMENTS = (
    "timestamptz, uuid[], uuid[], timestamptz[], integer[], boolean[], text[], uuid[], jsonb, "
    "integer, integer"
)
DROP_RECORD_PLAYS = f"DROP FUNCTION IF EXISTS record_plays(uuid[], {_ARGUMENTS})"
DROP_RECORD_PLAYS_ONE_LISTENER = f"DROP FUNCTION IF EXISTS record_plays(uuid, {_ARGUMENTS})"
