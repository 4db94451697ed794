"""Next-best action for every person, explained (S1, S2, S10)."""
