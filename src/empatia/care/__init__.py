"""Special-care alerts: influence x risk x value (S7)."""
