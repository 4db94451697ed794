"""The demo world: a realistic company with known truth (S12)."""
