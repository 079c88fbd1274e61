"""Search over the catalog and public playlists: ranked, accent-blind, as-you-type."""
