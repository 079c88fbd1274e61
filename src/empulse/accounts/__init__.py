"""Account primitives shared by every domain (a low layer: imports no domain)."""
