"""The conformance corpus (``tests/data/conformance/``: answers recorded from the real Run Registry and DIALS; see
its README), loaded once for every conformance test module, with the record counts the README states.

Decisions:
* One loader for every test module: each file of the corpus is read here, and tests/test_conformance_corpus.py
  compares what was read with the README's own counts, so no record can be left out silently.
* The README's counts are copied here as data (``README_COUNTS``); that test also reads them back from the
  README text, so a changed corpus cannot keep stale numbers.
* ``ask`` sends one request to a fake server app in process (no socket), with the headers the recording used.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from dqquery.snapshot import Snapshot
from dqquery.testing.server import Request

ROOT = Path(__file__).parent / "data" / "conformance"
RR = ROOT / "runregistry"
DIALS = ROOT / "dials"

#: README "Files": records per file, and per snapshot where the README gives them.
README_COUNTS: dict[str, int] = {
    "filters.jsonl": 805,
    "traps.jsonl": 30,
    "portal.jsonl": 46,
    "responses.jsonl": 1143,
    "requests.jsonl": 270,
}
README_PER_SNAPSHOT: dict[str, dict[str, int]] = {
    "filters.jsonl": {"seed": 384, "hyp_0": 142, "hyp_1": 135, "hyp_2": 144},
    "portal.jsonl": {"seed": 16, "hyp_0": 10, "hyp_1": 10, "hyp_2": 10},
    "responses.jsonl": {"seed": 486, "hyp_0": 235, "hyp_1": 211, "hyp_2": 211},
}
#: Paths of ``responses.jsonl`` answered by the listing tests (tests/test_conformance_rr_filters.py); every other
#: record is replayed by tests/test_conformance_rr_portal.py.
LISTING_PATHS = ("/runs_filtered_ordered", "/datasets_filtered_ordered", "/get_all_dataset_names_of_run/")


def lines(path: Path) -> list[dict[str, Any]]:
    """The records of a ``*.jsonl`` file, every non-blank line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


FILTERS = lines(RR / "filters.jsonl")
TRAPS = lines(RR / "traps.jsonl")
PORTAL = lines(RR / "portal.jsonl")
RESPONSES = lines(RR / "responses.jsonl")
DIALS_REQUESTS = lines(DIALS / "requests.jsonl")
SNAPSHOTS = sorted({r["snapshot"] for r in RESPONSES})


def is_listing(record: dict[str, Any]) -> bool:
    return record["path"].startswith(LISTING_PATHS)


@cache
def snapshot(name: str) -> Snapshot:
    """``runregistry/snapshots/<name>.json``, loaded once (callers must not change it)."""
    return Snapshot.load(RR / "snapshots" / f"{name}.json")


def ask(app: Any, method: str, path: str, body: Any) -> tuple[int, Any]:
    """One request to a fake server app, with the recording's headers; (status, parsed JSON body or None)."""
    data = b"" if body is None else json.dumps(body).encode()
    answer = app.handle(Request(method, path, [], {"content-type": "application/json", "email": "api@api"}, data, "http://127.0.0.1"))
    return answer.status, (json.loads(answer.body) if answer.body else None)


def lumisection_set(golden: Any) -> set[tuple[int, int]]:
    """A golden JSON (mapping run -> [[first, last], ...], or a GoldenJSON) as (run, lumisection) pairs."""
    items = golden.items() if isinstance(golden, dict) else ((run, golden.ranges(run)) for run in golden.runs)
    return {(int(run), ls) for run, ranges in items for first, last in ranges for ls in range(first, last + 1)}
