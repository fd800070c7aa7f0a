"""Where a power analysis keeps its replications: a Parquet dataset directory and a JSON manifest.

Each finished batch of replications is written as one Parquet file (to a temporary name, then
renamed, so a killed run leaves no half-written file), and ``_manifest.json`` records what was run:
the scenario, the targets, the estimator and its options, the seed and the package versions. A
rerun with the same question reads which ``(n, rep)`` are done and only runs the others; a rerun
with a different question raises :class:`~loyaltymodels.errors.StoreError` naming the difference,
so results of two questions are never mixed. ``n`` and ``reps`` are not part of the question:
replication ``(n, rep)`` has its own random stream, so a study can be extended to more sample
sizes or more replications later.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from ..errors import StoreError

__all__ = ["MANIFEST", "SCHEMA", "open_store", "append", "read_records", "completed"]

MANIFEST = "_manifest.json"  # leading "_": pyarrow's dataset discovery skips it
#: Parts of the manifest that must match for a rerun to resume (n and reps may differ).
COMPARED = ("kind", "scenario", "targets", "estimator", "fit_options", "seed_entropy", "versions")

#: One row per replication and quantity (a target or a key parameter).
SCHEMA = pa.schema(
    [
        ("n", pa.int64()),
        ("rep", pa.int64()),
        ("seed_entropy", pa.string()),
        ("spawn_key", pa.string()),
        ("kind", pa.string()),
        ("quantity", pa.string()),
        ("detected", pa.bool_()),
        ("converged", pa.bool_()),
        ("error", pa.string()),
        ("warnings", pa.string()),
        ("estimate", pa.float64()),
        ("se", pa.float64()),
        ("truth", pa.float64()),
        ("elapsed", pa.float64()),
        ("setup", pa.bool_()),
        ("worker", pa.string()),
    ]
)
KEY = ["n", "rep", "kind", "quantity"]


def open_store(path: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Create the directory and its manifest, or check that an existing one asks the same question."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    file = path / MANIFEST
    if file.exists():
        try:
            old = json.loads(file.read_text())
        except json.JSONDecodeError as err:
            raise StoreError(
                f"{file} is not valid JSON ({err}); delete the directory or choose another store"
            ) from None
        for key in COMPARED:
            if old.get(key) != manifest.get(key):
                where, was, now = _first_difference(old.get(key), manifest.get(key), key)
                raise StoreError(
                    f"{path} holds results of another run: its {key!r} differs, at {where}: stored "
                    f"{_show(was)}, asked {_show(now)}. Use another store directory (or delete this "
                    "one) to run the new question; results are never mixed."
                )
    else:
        _atomic_write(file, json.dumps(manifest, indent=2, sort_keys=True).encode())
    for stale in path.glob("*.tmp"):  # a run killed while writing
        stale.unlink()
    return path


def _first_difference(a: Any, b: Any, path: str) -> tuple[str, Any, Any]:
    """Path and values of the first difference between two JSON values (what to show the user)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y and isinstance(x, (dict, list)):  # a list of numbers is shown whole
                return _first_difference(x, y, f"{path}[{i}]")
    return path, a, b


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) < 400 else text[:400] + "..."


def _atomic_write(file: Path, data: bytes) -> None:
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, file)


def append(path: Path, frame: pd.DataFrame) -> Path:
    """Write one batch of records as its own Parquet file (named by its replications: idempotent)."""
    keys = frame[["n", "rep"]].drop_duplicates().to_numpy().tolist()
    name = "part-" + hashlib.sha1(json.dumps(keys).encode()).hexdigest()[:16] + ".parquet"
    table = pa.Table.from_pandas(frame[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    tmp = path / (name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path / name)
    return path / name


def _parts(path: Path) -> list[str]:
    return sorted(str(f) for f in Path(path).glob("part-*.parquet"))


def read_records(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Every stored record, one row per ``(n, rep, kind, quantity)``, sorted.

    Examples
    --------
    >>> import tempfile
    >>> read_records(tempfile.mkdtemp()).shape[0]
    0
    """
    files = _parts(Path(path))
    cols = columns or SCHEMA.names
    if not files:
        return pd.DataFrame({c: pd.Series(dtype=SCHEMA.field(c).type.to_pandas_dtype()) for c in cols})
    table = pads.dataset(files, format="parquet", schema=SCHEMA).to_table(columns=cols)
    out = table.to_pandas()
    if "detected" in out:
        out["detected"] = out["detected"].astype("boolean")
    key = [k for k in KEY if k in out]
    return out.drop_duplicates(key, keep="last").sort_values(key, kind="stable").reset_index(drop=True)


def completed(path: Path) -> set[tuple[int, int]]:
    """``(n, rep)`` pairs already stored."""
    done = read_records(path, columns=["n", "rep"])
    return set(map(tuple, done.drop_duplicates().to_numpy().tolist()))
