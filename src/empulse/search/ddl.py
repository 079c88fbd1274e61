"""The search index's database objects, for the migration that installs them.

A later migration that rebuilds a searched table on SQLite (Alembic's batch mode: tracks,
albums, artists, playlists) must run `SQLITE_DROP_TRIGGERS` first and `SQLITE_TRIGGERS` after:
SQLite checks every trigger that names a table when that table is renamed, and refuses the
rebuild's final rename while the triggers of the other tables point at it.

PostgreSQL: a `search_vector` (tsvector: title A, artist B, album C, GIN-indexed) and a
`search_key` (the folded name, what an exact match compares) on tracks, albums, artists and
playlists, and `search_words`, every indexed word once (trigram-indexed, where a typo finds the
words it resembles),
kept by triggers in the writing transaction (a rename of an artist or an album re-indexes its
tracks). SQLite: one FTS5 table per kind (`unicode61 remove_diacritics 2`, prefix indexes),
kept by triggers calling the folding functions the application registers on its connections
(search/text.py).
"""

# The SQL below is built from this file's own constants, never from input.
# ruff: noqa: S608

from __future__ import annotations

from empulse.core.folding import TYPOGRAPHIC

# As core/folding.PUNCTUATION, in PostgreSQL's regular expressions.
PUNCTUATION = f"[[:punct:]{TYPOGRAPHIC}]+"

POSTGRES_EXTENSIONS = ("unaccent", "pg_trgm")

POSTGRES_TABLES = (
    "CREATE TABLE search_words (word text PRIMARY KEY)",
    # GiST, not GIN: the vocabulary is small beside the rows, and the planner then chose to
    # scan it whole (12 ms at 20,000 words) over a GIN index; GiST answers in 1.5 ms.
    "CREATE INDEX ix_search_words_trigrams ON search_words USING gist (word gist_trgm_ops)",
)

# The vocabulary's trigram index as migration 0026 rebuilds it: 64-byte signatures instead of
# the default 12, which at 20,000 words were so full that a typo's lookup read 120 of the
# index's pages (0.7 ms); at 64 bytes it reads about ten (0.1 ms). Of the sizes measured
# (12, 24, 32, 48, 64, 96), 32 and 64 were the fast ones; 64 leaves room for a larger
# vocabulary, whose signatures fill sooner.
POSTGRES_VOCABULARY_INDEX = (
    "CREATE INDEX ix_search_words_trigrams ON search_words "
    "USING gist (word gist_trgm_ops(siglen = 64))"
)

POSTGRES_FUNCTIONS = (
    # unaccent() is only STABLE (its dictionary could change); an index needs IMMUTABLE.
    """CREATE FUNCTION search_unaccent(value text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
       AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, value) $$""",
    f"""CREATE FUNCTION search_document(value text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$
         SELECT regexp_replace(folded, '{PUNCTUATION}', '', 'g') || ' '
             || regexp_replace(folded, '{PUNCTUATION}', ' ', 'g')
         FROM (SELECT lower(search_unaccent(coalesce(value, ''))) AS folded) AS f
       $$""",
    f"""CREATE FUNCTION search_key(value text) RETURNS text
       LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$
         SELECT btrim(regexp_replace(
             regexp_replace(lower(search_unaccent(coalesce(value, ''))), '{PUNCTUATION}', '', 'g'),
             '\\s+', ' ', 'g'))
       $$""",
    """CREATE FUNCTION search_vector(first text, second text, third text) RETURNS tsvector
       LANGUAGE sql IMMUTABLE PARALLEL SAFE
       AS $$
         SELECT setweight(to_tsvector('simple', search_document(first)), 'A')
             || setweight(to_tsvector('simple', search_document(second)), 'B')
             || setweight(to_tsvector('simple', search_document(third)), 'C')
       $$""",
    # The vocabulary grows with every indexed word (in sorted order, so that two transactions
    # adding the same new words wait for each other in one order); a word is never removed:
    # one no row has any more only resembles a typo and then matches nothing.
    """CREATE FUNCTION search_remember(vector tsvector) RETURNS void
       LANGUAGE sql
       AS $$
         INSERT INTO search_words (word)
         SELECT word FROM unnest(tsvector_to_array(vector)) AS word ORDER BY word
         ON CONFLICT DO NOTHING
       $$""",
    # Each row's own texts, before it is written.
    """CREATE FUNCTION tracks_search() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE artist text; album text;
       BEGIN
         SELECT name INTO artist FROM artists WHERE id = NEW.artist_id;
         SELECT title INTO album FROM albums WHERE id = NEW.album_id;
         NEW.search_vector := search_vector(NEW.title, artist, album);
         NEW.search_key := search_key(NEW.title);
         PERFORM search_remember(NEW.search_vector);
         RETURN NEW;
       END $$""",
    """CREATE FUNCTION albums_search() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE artist text;
       BEGIN
         SELECT name INTO artist FROM artists WHERE id = NEW.artist_id;
         NEW.search_vector := search_vector(NEW.title, artist, NULL);
         NEW.search_key := search_key(NEW.title);
         PERFORM search_remember(NEW.search_vector);
         RETURN NEW;
       END $$""",
    """CREATE FUNCTION artists_search() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.search_vector := search_vector(NEW.name, NULL, NULL);
         NEW.search_key := search_key(NEW.name);
         PERFORM search_remember(NEW.search_vector);
         RETURN NEW;
       END $$""",
    """CREATE FUNCTION playlists_search() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.search_vector := search_vector(NEW.name, NULL, NEW.description);
         NEW.search_key := search_key(NEW.name);
         PERFORM search_remember(NEW.search_vector);
         RETURN NEW;
       END $$""",
    # A rename re-indexes what shows the name.
    """CREATE FUNCTION artists_search_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE albums SET search_vector = search_vector(title, NEW.name, NULL)
          WHERE artist_id = NEW.id;
         UPDATE tracks SET search_vector = search_vector(tracks.title, NEW.name, albums.title)
           FROM albums
          WHERE tracks.artist_id = NEW.id AND albums.id = tracks.album_id;
         RETURN NULL;
       END $$""",
    """CREATE FUNCTION albums_search_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE tracks SET search_vector = search_vector(tracks.title, artists.name, NEW.title)
           FROM artists
          WHERE tracks.album_id = NEW.id AND artists.id = tracks.artist_id;
         RETURN NULL;
       END $$""",
)

# A search's words as a tsquery (search/repository.py): each word folded as the documents
# are and quoted (no syntax), labelled with the fields it must be in and as a prefix from two
# letters on when asked, all of them required; NULL when a word holds no lexeme (`to_tsquery`
# would refuse it), which matches nothing. PL/pgSQL, not SQL: a SQL function with a FROM is
# not inlined, and its body was planned again on every call (three or four a search, each
# planned in more time than it ran); PL/pgSQL keeps its statement's plan for the session.
POSTGRES_QUERY_FUNCTION = """
    CREATE OR REPLACE FUNCTION search_query(words text[], fields text, prefix boolean)
    RETURNS tsquery LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
    AS $$
    BEGIN
      RETURN (
        SELECT CASE WHEN bool_and(numnode(plainto_tsquery('simple', k)) > 0)
          THEN to_tsquery('simple', string_agg(
            quote_literal(k)
              || CASE WHEN (prefix AND length(w) > 1) OR fields <> ''
                   THEN ':' || CASE WHEN prefix AND length(w) > 1 THEN '*' ELSE '' END || fields
                   ELSE '' END,
            ' & ' ORDER BY n))
        END
        FROM unnest(words) WITH ORDINALITY AS u(w, n), LATERAL (SELECT search_key(w) AS k) AS f
      );
    END
    $$"""

POSTGRES_TRIGGERS = (
    """CREATE TRIGGER tracks_search BEFORE INSERT OR UPDATE OF title, artist_id, album_id
       ON tracks FOR EACH ROW EXECUTE FUNCTION tracks_search()""",
    """CREATE TRIGGER albums_search BEFORE INSERT OR UPDATE OF title, artist_id
       ON albums FOR EACH ROW EXECUTE FUNCTION albums_search()""",
    """CREATE TRIGGER artists_search BEFORE INSERT OR UPDATE OF name
       ON artists FOR EACH ROW EXECUTE FUNCTION artists_search()""",
    """CREATE TRIGGER playlists_search BEFORE INSERT OR UPDATE OF name, description
       ON playlists FOR EACH ROW EXECUTE FUNCTION playlists_search()""",
    """CREATE TRIGGER artists_search_renamed AFTER UPDATE OF name ON artists
       FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
       EXECUTE FUNCTION artists_search_renamed()""",
    """CREATE TRIGGER albums_search_renamed AFTER UPDATE OF title ON albums
       FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title)
       EXECUTE FUNCTION albums_search_renamed()""",
)

SEARCHED_TABLES = ("tracks", "albums", "artists", "playlists")

SQLITE_TABLES = (
    """CREATE VIRTUAL TABLE fts_tracks USING fts5(
         track_id UNINDEXED, title, artist, album,
         tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
    """CREATE VIRTUAL TABLE fts_albums USING fts5(
         album_id UNINDEXED, title, artist,
         tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
    """CREATE VIRTUAL TABLE fts_artists USING fts5(
         artist_id UNINDEXED, name,
         tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
    """CREATE VIRTUAL TABLE fts_playlists USING fts5(
         playlist_id UNINDEXED, name, description,
         tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
)

_TRACK_ROW = """
    SELECT tracks.id, search_document(tracks.title), search_document(artists.name),
           search_document(albums.title)
    FROM tracks JOIN artists ON artists.id = tracks.artist_id
    JOIN albums ON albums.id = tracks.album_id
"""
_ALBUM_ROW = """
    SELECT albums.id, search_document(albums.title), search_document(artists.name)
    FROM albums JOIN artists ON artists.id = albums.artist_id
"""

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER fts_tracks_insert AFTER INSERT ON tracks BEGIN
          INSERT INTO fts_tracks (track_id, title, artist, album)
          {_TRACK_ROW} WHERE tracks.id = NEW.id;
        END""",
    f"""CREATE TRIGGER fts_tracks_update AFTER UPDATE OF title, artist_id, album_id ON tracks
        BEGIN
          DELETE FROM fts_tracks WHERE track_id = OLD.id;
          INSERT INTO fts_tracks (track_id, title, artist, album)
          {_TRACK_ROW} WHERE tracks.id = NEW.id;
        END""",
    """CREATE TRIGGER fts_tracks_delete AFTER DELETE ON tracks BEGIN
         DELETE FROM fts_tracks WHERE track_id = OLD.id;
       END""",
    f"""CREATE TRIGGER fts_albums_insert AFTER INSERT ON albums BEGIN
          INSERT INTO fts_albums (album_id, title, artist) {_ALBUM_ROW} WHERE albums.id = NEW.id;
        END""",
    f"""CREATE TRIGGER fts_albums_update AFTER UPDATE OF title, artist_id ON albums BEGIN
          DELETE FROM fts_albums WHERE album_id = OLD.id;
          INSERT INTO fts_albums (album_id, title, artist) {_ALBUM_ROW} WHERE albums.id = NEW.id;
          UPDATE fts_tracks SET album = search_document(NEW.title)
           WHERE track_id IN (SELECT id FROM tracks WHERE album_id = NEW.id);
        END""",
    """CREATE TRIGGER fts_albums_delete AFTER DELETE ON albums BEGIN
         DELETE FROM fts_albums WHERE album_id = OLD.id;
       END""",
    """CREATE TRIGGER fts_artists_insert AFTER INSERT ON artists BEGIN
         INSERT INTO fts_artists (artist_id, name) VALUES (NEW.id, search_document(NEW.name));
       END""",
    """CREATE TRIGGER fts_artists_update AFTER UPDATE OF name ON artists BEGIN
         UPDATE fts_artists SET name = search_document(NEW.name) WHERE artist_id = NEW.id;
         UPDATE fts_albums SET artist = search_document(NEW.name)
          WHERE album_id IN (SELECT id FROM albums WHERE artist_id = NEW.id);
         UPDATE fts_tracks SET artist = search_document(NEW.name)
          WHERE track_id IN (SELECT id FROM tracks WHERE artist_id = NEW.id);
       END""",
    """CREATE TRIGGER fts_artists_delete AFTER DELETE ON artists BEGIN
         DELETE FROM fts_artists WHERE artist_id = OLD.id;
       END""",
    """CREATE TRIGGER fts_playlists_insert AFTER INSERT ON playlists BEGIN
         INSERT INTO fts_playlists (playlist_id, name, description)
         VALUES (NEW.id, search_document(NEW.name), search_document(NEW.description));
       END""",
    """CREATE TRIGGER fts_playlists_update AFTER UPDATE OF name, description ON playlists BEGIN
         UPDATE fts_playlists
            SET name = search_document(NEW.name), description = search_document(NEW.description)
          WHERE playlist_id = NEW.id;
       END""",
    """CREATE TRIGGER fts_playlists_delete AFTER DELETE ON playlists BEGIN
         DELETE FROM fts_playlists WHERE playlist_id = OLD.id;
       END""",
)

SQLITE_DROP_TRIGGERS = tuple(
    f"DROP TRIGGER IF EXISTS {statement.split()[2]}" for statement in SQLITE_TRIGGERS
)

SQLITE_BACKFILL = (
    f"INSERT INTO fts_tracks (track_id, title, artist, album) {_TRACK_ROW}",
    f"INSERT INTO fts_albums (album_id, title, artist) {_ALBUM_ROW}",
    "INSERT INTO fts_artists (artist_id, name) SELECT id, search_document(name) FROM artists",
    """INSERT INTO fts_playlists (playlist_id, name, description)
       SELECT id, search_document(name), search_document(description) FROM playlists""",
)
