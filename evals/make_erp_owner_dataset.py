"""Build the blind ERP owner-requests evaluation set from its YAML source.

``evals/datasets/erp_owner_requests.yaml`` holds requests typed the way the business owner
types them, each with one or more readings and the plain SQL that answers each reading. This
script runs every SQL statement with the standard :mod:`sqlite3` module against the sample
database (a fresh one seeded with the default ``nova erp seed`` configuration unless ``--url``
names one), turns the decisive result columns into facts and writes:

* ``evals/datasets/erp_owner.jsonl``: one request per line;
* ``evals/datasets/erp_owner.meta.json``: seed configuration, item count and the YAML's sha256.

Nothing from Nova computes the answers: Nova is only used to create the sample database.
The script fails loudly (non-zero exit) when a statement errors, when a reading that names
facts returns no row, when a fact is NULL, or when the declared row count does not match.

Run: ``python -m evals.make_erp_owner_dataset [--url sqlite:////path/to/erp.sqlite]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import sys
import tempfile
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DATASETS = HERE / "datasets"
SOURCE = DATASETS / "erp_owner_requests.yaml"
OUT_JSONL = DATASETS / "erp_owner.jsonl"
OUT_META = DATASETS / "erp_owner.meta.json"

KINDS = {"number", "text", "date"}
ID_RE = re.compile(r"^(?:own|tune)-\d{3,}$")  # tune-: dev-only probes (evals/discipline.py)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DatasetError(RuntimeError):
    """The YAML source or one of its SQL readings is wrong."""


def _sqlite_path(url: str) -> str:
    """Return the file path of a ``sqlite:///...`` URL (SQLAlchemy style, driver optional)."""
    match = re.match(r"^sqlite(?:\+\w+)?:///(.+)$", url)
    if not match:
        raise DatasetError(f"only sqlite URLs are supported, got {url!r}")
    path = match.group(1)
    if not Path(path).exists():
        raise DatasetError(f"no database file at {path}")
    return path


def _seed_fresh(directory: Path) -> tuple[str, dict[str, Any]]:
    """Seed a fresh sample database with the default configuration; return its URL and config."""
    from nova.erp.db import ErpDatabase
    from nova.erp.seed import SeedConfig, seed_database

    url = f"sqlite:///{directory / 'erp.sqlite'}"
    config = SeedConfig()
    database = ErpDatabase(url)
    try:
        seed_database(database, config)
    finally:
        database.dispose()
    return url, config.model_dump(mode="json")


def _format_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise DatasetError(f"expected a number, got {value!r}")
    return str(
        Decimal(repr(value) if isinstance(value, float) else value).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
    )


def _format_date(value: Any) -> str:
    text = str(value)[:10]
    if not DATE_RE.match(text):
        raise DatasetError(f"expected an ISO date, got {value!r}")
    date.fromisoformat(text)
    return text


def _format(kind: str, value: Any) -> str:
    if value is None:
        raise DatasetError("a fact column is NULL")
    if kind == "number":
        return _format_number(value)
    if kind == "date":
        return _format_date(value)
    return str(value)


def _check_item(item: dict[str, Any], seen: set[str]) -> None:
    ident = item.get("id")
    if not isinstance(ident, str) or not ID_RE.match(ident):
        raise DatasetError(f"bad id {ident!r}")
    if ident in seen:
        raise DatasetError(f"duplicate id {ident}")
    seen.add(ident)
    for key in ("text", "topic"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise DatasetError(f"{ident}: missing {key}")
    if not isinstance(item.get("answerable"), bool):
        raise DatasetError(f"{ident}: answerable must be true or false")
    readings = item.get("readings") or []
    if item["answerable"] and not readings:
        raise DatasetError(f"{ident}: an answerable request needs at least one reading")
    if not item["answerable"] and readings:
        raise DatasetError(f"{ident}: an unanswerable request has no readings")
    for reading in readings:
        if not isinstance(reading.get("reading"), str) or not isinstance(reading.get("sql"), str):
            raise DatasetError(f"{ident}: each reading needs 'reading' and 'sql'")
        facts = reading.get("facts") or []
        kind = reading.get("kind") or {}
        for column in facts:
            if kind.get(column) not in KINDS:
                raise DatasetError(f"{ident}: fact column {column!r} has no valid kind")
        rows = reading.get("rows")
        if rows is not None and (not isinstance(rows, int) or rows < 0):
            raise DatasetError(f"{ident}: rows must be a non-negative integer")
        if not facts and rows is None:
            raise DatasetError(f"{ident}: a reading needs facts or an expected row count")


def _run_reading(conn: sqlite3.Connection, ident: str, reading: dict[str, Any]) -> dict[str, Any]:
    try:
        cursor = conn.execute(reading["sql"])
    except sqlite3.Error as exc:
        raise DatasetError(f"{ident}: SQL failed ({exc}): {reading['sql']}") from exc
    columns = [description[0] for description in cursor.description or []]
    rows = cursor.fetchall()
    facts_columns = list(reading.get("facts") or [])
    missing = [column for column in facts_columns if column not in columns]
    if missing:
        raise DatasetError(f"{ident}: fact columns {missing} not in result columns {columns}")
    expected_rows = reading.get("rows")
    if expected_rows is not None and len(rows) != expected_rows:
        raise DatasetError(
            f"{ident}: reading {reading['reading']!r} expected {expected_rows} rows, "
            f"got {len(rows)}"
        )
    if facts_columns and not rows:
        raise DatasetError(f"{ident}: reading {reading['reading']!r} returned no row")
    facts: list[dict[str, str]] = []
    kind = reading.get("kind") or {}
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        for column in facts_columns:
            try:
                value = _format(kind[column], record[column])
            except DatasetError as exc:
                raise DatasetError(f"{ident}: column {column}: {exc}") from exc
            facts.append({"type": kind[column], "value": value})
    return {
        "reading": reading["reading"],
        "facts": facts,
        "rows": len(rows) if expected_rows is not None else None,
    }


def build(url: str | None, source: Path, out_jsonl: Path, out_meta: Path) -> dict[str, Any]:
    """Run every reading of ``source`` against the database and write the JSONL and meta files."""
    raw = source.read_bytes()
    items = yaml.safe_load(raw)
    if not isinstance(items, list) or not items:
        raise DatasetError(f"{source} holds no list of requests")
    seen: set[str] = set()
    for item in items:
        _check_item(item, seen)

    with tempfile.TemporaryDirectory(prefix="erp-owner-") as tmp:
        if url is None:
            url, seed_config = _seed_fresh(Path(tmp))
        else:
            seed_config = None
        conn = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True)
        try:
            meta_rows = dict(conn.execute("SELECT key, value FROM erp_meta").fetchall())
            if seed_config is None:
                seed_config = json.loads(meta_rows.get("seed_config", "null"))
            lines = []
            for item in items:
                readings = [_run_reading(conn, item["id"], r) for r in item.get("readings") or []]
                lines.append(
                    {
                        "id": item["id"],
                        "text": item["text"],
                        "topic": item["topic"],
                        "answerable": item["answerable"],
                        "readings": readings,
                        "notes": item.get("notes"),
                    }
                )
        finally:
            conn.close()

    out_jsonl.write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8"
    )
    topics = Counter(line["topic"] for line in lines)
    meta = {
        "source": source.name,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "seed_config": seed_config,
        "as_of": meta_rows.get("as_of"),
        "seed_fingerprint": meta_rows.get("seed_fingerprint"),
        "items": len(lines),
        "answerable": sum(1 for line in lines if line["answerable"]),
        "unanswerable": sum(1 for line in lines if not line["answerable"]),
        "ambiguous": sum(1 for line in lines if len(line["readings"]) > 1),
        "topics": dict(sorted(topics.items())),
        "number_format": "plain decimal string rounded half-up to 2 places",
    }
    out_meta.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", help="sqlite URL of a seeded ERP database (default: seed a fresh one)"
    )
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT_JSONL)
    parser.add_argument("--meta", type=Path, default=OUT_META)
    args = parser.parse_args(argv)
    try:
        meta = build(args.url, args.source, args.out, args.meta)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {meta['items']} requests to {args.out} ({meta['ambiguous']} ambiguous, "
        f"{meta['unanswerable']} unanswerable)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
