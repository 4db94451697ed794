"""Experience measured: surveys, effort, emotional trajectories, perception gap (S4, S6)."""
