"""Snapshot validation (errors say where), JSON and gzip round trips, atomic save."""

from __future__ import annotations

import copy
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from dqquery.snapshot import Snapshot, SnapshotError
from dqquery.strategies_snapshot import snapshots

GOOD = {"status": "GOOD", "comment": "", "cause": ""}


def base() -> dict[str, Any]:
    return {
        "runs": [{"run_number": 315257, "oms_attributes": {"energy": 6500.0}, "rr_attributes": {"class": "Collisions18"}, "version": 3}],
        "datasets": [{"run_number": 315257, "name": "online", "dataset_attributes": {"global_state": "OPEN"}, "datasets_in_gui": []}],
        "lumisections": {
            "315257": {
                "online": {
                    "rr": [{"dt-dt": GOOD, "start": 1, "end": 10}, {"dt-dt": GOOD, "start": 11, "end": 20}],
                    "oms": [{"cms_active": True, "recorded": 0.1, "start": 1, "end": 20}],
                }
            }
        },
    }


def test_valid_snapshot_keeps_extra_keys() -> None:
    s = Snapshot.from_dict(base())
    assert s.runs[0].model_extra == {"version": 3}
    assert s.datasets[0].model_extra == {"datasets_in_gui": []}
    assert s.runs_by_number[315257].oms_attributes == {"energy": 6500.0}
    assert s.dataset_names() == ["online"]
    assert list(s.datasets_of(315257)) == ["online"]
    assert s.n_lumisections() == 20


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["lumisections"]["315257"]["online"]["rr"][1].update(start=30, end=25), r"run 315257, dataset 'online', rr range #1 \(start 30, end 25\): start is after end"),
        (lambda d: d["lumisections"]["315257"]["online"]["rr"][1].update(start=10), r"run 315257, dataset 'online', rr range #1 .*overlaps"),
        (lambda d: d["lumisections"]["315257"]["online"]["oms"][0].update(start="1"), r"run 315257, dataset 'online', oms range #0 .*must be integers"),
        (lambda d: d["lumisections"]["315257"]["online"]["oms"][0].update(start=0), r"oms range #0 .*start at 1"),
        (lambda d: d["lumisections"]["315257"]["online"]["rr"][0].update({"dt-dt": "GOOD"}), r"rr range #0 .*flag 'dt-dt' must be a triplet"),
        (lambda d: d["lumisections"]["315257"]["online"]["rr"][0].update({"dt-dt": {"status": 1}}), r"rr range #0 .*non-string status"),
        (lambda d: d["lumisections"]["315257"]["online"].update(luminosity={"start": 1, "recorded": [0.1, True]}), r"luminosity: recorded\[1\] \(lumisection 2\)"),
        (lambda d: d["lumisections"].update({"1": {}}), r"run 1 has lumisection data but is not in 'runs'"),
        (lambda d: d["runs"].append({"run_number": 315257}), r"runs\[1\]: run 315257 appears twice"),
        (lambda d: d["datasets"].append({"run_number": 9, "name": "x"}), r"datasets\[1\] \('x'\): run 9 is not in 'runs'"),
        (lambda d: d["runs"][0].update(run_number="abc"), r"runs\[0\] \(run 'abc'\): run_number"),
        (lambda d: d["datasets"][0].pop("name"), r"datasets\[0\] \(run 315257, dataset None\): name"),
        (lambda d: d["lumisections"]["315257"].update(x={"rr": "nope"}), r"lumisections: run 315257, dataset 'x', rr"),
    ],
)
def test_errors_say_where(edit: Any, message: str) -> None:
    data = base()
    edit(data)
    with pytest.raises(SnapshotError, match=message):
        Snapshot.from_dict(data)


def test_error_is_a_value_error_and_names_the_file(tmp_path: Path) -> None:
    data = base()
    data["lumisections"]["315257"]["online"]["rr"][0]["end"] = 0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"bad\.json: run 315257"):
        Snapshot.load(path)
    path.write_text("{not json")
    with pytest.raises(SnapshotError, match="not valid JSON"):
        Snapshot.load(path)


def test_gzip_and_plain_round_trip(tmp_path: Path) -> None:
    s = Snapshot.from_dict(base())
    for name in ("s.json", "s.json.gz", "no-suffix"):
        s.save(tmp_path / name)
        assert Snapshot.load(tmp_path / name) == s
    assert (tmp_path / "s.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    # gzip is detected from the content, not the name
    (tmp_path / "plain.gz.txt").write_bytes(gzip.compress(json.dumps(base()).encode()))
    assert Snapshot.load(tmp_path / "plain.gz.txt") == s


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "snap.json"
    Snapshot.from_dict(base()).save(target)
    before = target.read_bytes()
    bigger = base()
    bigger["runs"][0]["oms_attributes"]["energy"] = 450.0

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        Snapshot.from_dict(bigger).save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap.json"]  # no temporary file left behind


def test_from_dict_does_not_mutate_input() -> None:
    data = base()
    frozen = copy.deepcopy(data)
    Snapshot.from_dict(data)
    assert data == frozen


@settings(max_examples=60, deadline=None)
@given(snapshots())
def test_generated_snapshots_round_trip(snapshot: Snapshot) -> None:
    assert Snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict()))) == snapshot
