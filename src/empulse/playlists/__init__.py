"""Playlists: ordered, versioned, shared with collaborators by invite, followed by others."""
