"""How customers feel: language, sentiment, emotion, effort and themes from their words (S4, S5)."""
