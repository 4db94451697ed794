"""Unified profiles: one row per person with traits, RFM, CLV and rhythms (S3, S10)."""
