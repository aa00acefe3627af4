"""Ingestion: read a raw export, pseudonymise at the door, enforce the data contracts, write clean tables.

Entry point: ``training.ingest.pipeline.ingest``; see docs/DATA_MODEL.md sections 1-2.
"""

from training.ingest.pipeline import IngestResult, ingest
from training.ingest.report import TableCounts
from training.ingest.sources import IngestError

__all__ = ["IngestError", "IngestResult", "TableCounts", "ingest"]
