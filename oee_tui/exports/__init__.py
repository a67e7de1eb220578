"""Exports: report-shaped tables to CSV/XLSX, and bulk store tables streamed through DuckDB's COPY."""
