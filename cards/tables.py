"""Row files on disk ↔ ``datasets.Dataset``: what ``kinject publish --file`` reads and ``kinject pull --out`` writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import datasets

from kinject.errors import KinjectUserError

SUFFIXES = (".jsonl", ".json", ".parquet")


def read_table(path: Path) -> datasets.Dataset:
    """A ``.jsonl`` or ``.parquet`` file as a Dataset (in memory; no datasets cache entry for a one-off file)."""
    path = Path(path)
    if not path.is_file():
        raise KinjectUserError(f"{path}: no such file")
    if path.suffix not in SUFFIXES:
        raise KinjectUserError(f"{path}: expected one of {', '.join(SUFFIXES)}, got {path.suffix or 'no suffix'}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return datasets.Dataset(pq.read_table(path))
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise KinjectUserError(f"{path}:{number}: not a JSON object: {exc.msg}") from None
    if not rows:
        raise KinjectUserError(f"{path}: no rows")
    try:
        return datasets.Dataset.from_list(rows)
    except Exception as exc:  # pyarrow's error for rows whose columns disagree in type
        raise KinjectUserError(f"{path}: rows do not share one schema: {exc}") from None


def write_table(dataset: datasets.Dataset, out: Path | None) -> None:
    """Write rows as ``.jsonl`` (or ``.parquet`` by suffix); ``None`` writes JSON lines to stdout."""
    if out is not None:
        out = Path(out)
        if out.suffix not in SUFFIXES:
            raise KinjectUserError(f"--out {out}: expected one of {', '.join(SUFFIXES)}, got "
                                   f"{out.suffix or 'no suffix'} (JSON Lines are written as .jsonl)")
        if not out.parent.is_dir():
            raise KinjectUserError(f"--out {out}: folder {out.parent} does not exist; create it first")
    if out is not None and out.suffix == ".parquet":
        dataset.to_parquet(str(out))
        return
    handle = sys.stdout if out is None else Path(out).open("w", encoding="utf-8")
    try:
        for row in dataset:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if out is not None:
            handle.close()
