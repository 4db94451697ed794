"""Privacy: consent, access, erasure, retention, keys, progressive profiling (S11)."""
