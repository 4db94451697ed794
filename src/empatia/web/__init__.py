"""The web UI: customer 360 and the CX dashboard (S8, S9)."""
