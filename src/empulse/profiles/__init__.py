"""An artist's public profile, edited by the artist: name, bio, links and image."""
