"""Journeys: maps, funnels and paths reconstructed from events (S8)."""
