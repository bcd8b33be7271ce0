"""Every record of the conformance corpus is replayed: the counts read from ``tests/data/conformance/README.md``
equal the records the conformance modules load (``tests/conformance.py``), and ``runregistry/responses.jsonl`` is
split without loss between the listing replay (tests/test_conformance_rr_filters.py) and the other answers'
replay (tests/test_conformance_rr_portal.py).

Decisions:
* The expected counts are read from the README's own text (its "Files" block and its per-endpoint table), so a
  record dropped by a loader or a filter in a test module fails here, and a changed corpus cannot keep stale
  numbers in ``conformance.README_COUNTS``.
"""

from __future__ import annotations

import re
from collections import Counter

from conformance import (
    DIALS_REQUESTS,
    FILTERS,
    PORTAL,
    README_COUNTS,
    README_PER_SNAPSHOT,
    RESPONSES,
    ROOT,
    SNAPSHOTS,
    TRAPS,
    is_listing,
)

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _files_block() -> dict[str, str]:
    """The README's ``Files`` block: file name -> the rest of its line."""
    block = README.split("## Files", 1)[1].split("```", 2)[1]
    return {m.group(1).rsplit("/", 1)[-1]: m.group(2) for m in re.finditer(r"^(\S+\.jsonl)\s+(.*)$", block, re.M)}


def test_the_readme_counts_are_the_ones_the_tests_check():
    block = _files_block()
    assert {name: int(rest.split()[0]) for name, rest in block.items()} == README_COUNTS
    for name, per_snapshot in README_PER_SNAPSHOT.items():
        assert dict((s, int(n)) for s, n in re.findall(r"(seed|hyp_\d) (\d+)", block[name])) == per_snapshot


def test_every_file_is_loaded_whole():
    loaded = {"filters.jsonl": FILTERS, "traps.jsonl": TRAPS, "portal.jsonl": PORTAL, "responses.jsonl": RESPONSES,
              "requests.jsonl": DIALS_REQUESTS}
    assert {name: len(records) for name, records in loaded.items()} == README_COUNTS
    for name, per_snapshot in README_PER_SNAPSHOT.items():
        assert Counter(r["snapshot"] for r in loaded[name]) == per_snapshot
    assert {r["snapshot"] for r in FILTERS + TRAPS + PORTAL} <= set(SNAPSHOTS)


def _endpoint_table() -> dict[str, dict[str, int]]:
    """README "Records per snapshot": path -> snapshot -> records (the totals row left out)."""
    table = README.split("Records per snapshot", 1)[1].split("\n\n", 2)[1]
    out: dict[str, dict[str, int]] = {}
    for cells in (line.strip("|").split("|") for line in table.splitlines() if line.startswith("| `/")):
        path = cells[0].strip().strip("`").split("N", 1)[0] if "/N" in cells[0] else cells[0].strip().strip("`")
        out[path] = dict(zip(SNAPSHOTS_IN_TABLE, (int(c.split()[0]) for c in cells[1:])))
    return out


SNAPSHOTS_IN_TABLE = ("seed", "hyp_0", "hyp_1", "hyp_2")


def test_responses_per_endpoint_and_snapshot_are_the_readmes():
    table = _endpoint_table()
    assert len(table) == 13
    counted: dict[str, Counter[str]] = {}
    for record in RESPONSES:
        path = record["path"]
        key = next(p for p in table if path == p or (p.endswith("/") and path.startswith(p)))
        counted.setdefault(key, Counter())[record["snapshot"]] += 1
    assert {p: dict(c) for p, c in counted.items()} == table


def test_the_two_replays_of_responses_cover_all_1143_records_once():
    listings = [r for r in RESPONSES if is_listing(r)]
    others = [r for r in RESPONSES if not is_listing(r)]
    assert len(listings) + len(others) == README_COUNTS["responses.jsonl"]
    table = _endpoint_table()
    listing_paths = ("/runs_filtered_ordered", "/datasets_filtered_ordered", "/get_all_dataset_names_of_run/")
    assert len(listings) == sum(sum(table[p].values()) for p in listing_paths)
    assert {r["path"] for r in others}.isdisjoint(listing_paths)
