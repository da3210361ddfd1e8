"""Exporting a catalog's tracks and facts as CSV, JSON lines or Parquet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable, TextIO

from ..atomic import atomic_path, write_text
from ..errors import ConfigError
from .catalog import FACT_COLUMNS

__all__ = ["export_facts"]


def export_facts(rows: Iterable[dict[str, Any]], fmt: str, target: Path | None, stdout: TextIO) -> None:
    """Write ``rows`` (dicts with :data:`~songscope.library.catalog.FACT_COLUMNS`) as ``csv``,
    ``jsonl`` (one JSON object per track, null where nothing was computed) or ``parquet``
    (needs ``pyarrow``), to ``target`` atomically or, for text formats, to ``stdout``.

    Raises:
        ConfigError: parquet without a target file or without pyarrow, or an unknown format.
    """
    if fmt == "parquet":
        if target is None:
            raise ConfigError("parquet is binary: give --output-file")
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError("parquet export needs pyarrow: pip install pyarrow") from None
        table = pa.Table.from_pylist(list(rows), schema=None)
        with atomic_path(target) as tmp:
            pq.write_table(table, str(tmp))
        return
    buffer = io.StringIO()
    if fmt == "jsonl":
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(buffer, fieldnames=FACT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        raise ConfigError(f"unknown export format {fmt!r}; use csv, jsonl or parquet")
    if target is None:
        stdout.write(buffer.getvalue())
    else:
        write_text(target, buffer.getvalue())
