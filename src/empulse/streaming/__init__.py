"""Playing the catalog: a track's audio by byte ranges, to a signed-in listener or through a
short-lived signed URL."""
