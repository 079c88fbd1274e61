"""The Subsonic API (1.16.1, with the OpenSubsonic extensions) under /rest, so that existing
player apps browse, search, star, play and build playlists on EmPulse."""
