"""A listener's library: the tracks, albums and artists they like."""
