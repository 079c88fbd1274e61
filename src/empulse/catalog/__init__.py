"""The listener's catalog: what has been published and is visible, readable without signing
in."""
