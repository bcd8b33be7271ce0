"""Output files follow the umask (never more open), reads are bounded, JSON data files are read strictly."""

from __future__ import annotations

import gzip
import os
import stat

import pytest

import dqquery.files as F


class Refused(ValueError):
    pass


@pytest.mark.parametrize("umask", [0o077, 0o027, 0o022])
def test_new_output_files_follow_the_umask(tmp_path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = F.atomic_write_text(tmp_path / "out.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_an_existing_file_keeps_its_mode(tmp_path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    path.chmod(0o600)
    F.atomic_write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_temporary_file_is_left_behind(tmp_path) -> None:
    F.atomic_write_text(tmp_path / "a.json.gz", "x" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["a.json.gz"]
    assert gzip.decompress((tmp_path / "a.json.gz").read_bytes()) == b"x" * 1000


def test_reads_are_bounded_before_and_after_decompression(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(F, "MAX_FILE_BYTES", 10_000)
    plain = tmp_path / "plain.json"
    plain.write_bytes(b" " * 10_001)
    with pytest.raises(Refused, match="larger than 10,000 bytes"):
        F.read_maybe_gzip(plain, Refused)
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * 1_000_000))  # 1 kB on disk
    assert bomb.stat().st_size < 10_000
    with pytest.raises(Refused, match="once decompressed"):
        F.read_maybe_gzip(bomb, Refused)
    fits = tmp_path / "fits.gz"
    fits.write_bytes(gzip.compress(b"[1,") + gzip.compress(b"2]"))  # two members, as `cat a.gz b.gz`
    assert F.read_maybe_gzip(fits, Refused) == b"[1,2]"
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"[1, 2, 3]")[:-6])
    with pytest.raises(Refused, match="corrupt gzip"):
        F.read_maybe_gzip(broken, Refused)


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"a": 1, "a": 2}', "'a' appears twice"),
        ('{"x": [{"b": 1, "c": 2, "b": 3}]}', "'b' appears twice"),
        ("[NaN]", "NaN is not a number"),
        ('{"v": Infinity}', "Infinity is not a number"),
        ("[-Infinity]", "-Infinity is not a number"),
        ("[1e400]", "too large for a float"),
        ("[" + "7" * 401 + "]", "401 digits"),
        ("[" + "7" * 200 + "." + "1" * 200 + "]", "401 characters"),
        ("[" * 100_000, "nested too deeply"),
        ("{", "not valid JSON"),
    ],
)
def test_strict_json(text: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        F.load_json_document(text, Refused)


def test_strict_json_accepts_ordinary_documents() -> None:
    text = '{"a": [1, -2, 3.5, "x", null, true], "b": {"c": ' + "9" * 400 + "}}"
    assert F.load_json_document(text.encode(), Refused) == {"a": [1, -2, 3.5, "x", None, True], "b": {"c": int("9" * 400)}}
    assert F.load_json_document("\ufeff[1]".encode(), Refused) == [1]  # a UTF-8 byte-order mark is fine


def test_nesting_is_measured_iteratively() -> None:
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert F.nesting_exceeds(deep, 200)
    assert not F.nesting_exceeds({"a": [[1]]}, 3) and F.nesting_exceeds({"a": [[1]]}, 2)
