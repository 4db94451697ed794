"""The store: one embedded DuckDB file that every stage reads and writes (S3)."""

from empatia.store.store import Store, transaction

__all__ = ["Store", "transaction"]
