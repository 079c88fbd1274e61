"""The plays ledger: what players report a listener heard, exactly once per play, and the
counters artists are paid on."""
