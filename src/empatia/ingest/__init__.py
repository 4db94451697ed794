"""Ingestion: Segment-compatible HTTP tracking and batch import into the append-only event log."""

from empatia.ingest.importer import FileReport, ImportReport, import_files

__all__ = ["FileReport", "ImportReport", "import_files"]
