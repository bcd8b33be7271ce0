"""A local SQLite cache of service answers: compact, user-only, safe against interruption.

Decisions:
* One table keyed by the SHA-256 of ``(service, endpoint, canonical request)``; the canonical request is
  sorted-key JSON of method, path, query parameters and body, and never contains headers, so credentials can not
  enter the cache (the request text itself is not stored either: only its digest, the service and the endpoint).
* Compact storage (schema 3): an answer is stored as zlib-compressed JSON of a *columnar* form of the value
  (see :func:`encode_columns`): a list of objects becomes its key shapes plus one list per key, and a list of
  mostly repeated values is run-length encoded. Run Registry's per-lumisection rows repeat the same ~35 keys
  and mostly the same values: as columns they are a few runs each, and zlib compresses what is left, starting
  from a preset dictionary of the catalog's flag and bit names (each answer is small, so its own text gives
  zlib little to refer back to; the dictionary saves about a fifth). The demo year (320 KB snapshot) took
  159 MB as plain JSON text and takes 0.88 MB (2.74x) this way, with RR's history answers kept as the spans
  they cover (``sources.runregistry``) (``tests/benchmarks/bench_cache_size.py``; ``tests/test_cache.py``
  asserts the ratio to the snapshot stays <= 3 on a slice of the year). The encoding is lossless: key order,
  missing keys and ``null`` values all come back as they were.
* Integrity: each entry keeps the SHA-256 of its stored bytes; an entry whose checksum does not match (or that
  does not decompress) is treated as absent (and dropped), never returned.
* Schema version in ``PRAGMA user_version``. A cache file of an older version (1: plain JSON text; 2: zlib
  without the preset dictionary) is
  emptied on open (it is a cache: its answers are fetched again), never misread; a newer version is an error
  naming the file.
* Durability: WAL journal, ``synchronous=FULL``, one transaction per stored answer. A fetch interrupted
  at any point (Ctrl-C, a crash, ``kill -9``) keeps every answer stored before the interruption and never
  leaves a partial entry; re-running the fetch asks the network only for what is missing.
* ``ttl`` (seconds, ``None`` = forever) limits how old an answer may be to be used. ``offline=True`` serves
  only from the cache: a miss raises :class:`CacheMiss` naming the request (the network is never used).
* Location: ``path=`` argument, else ``$DQQUERY_CACHE_DIR/http-cache.sqlite``, else
  ``$XDG_CACHE_HOME/dqquery/http-cache.sqlite``, else ``~/.cache/dqquery/http-cache.sqlite``.
* Permissions: folders the cache creates are 0700 and the cache file 0600 (user only: answers may hold
  unpublished data). SQLite gives its ``-wal``/``-shm`` files the mode of the database file. An existing folder
  the user chose is left as it is.
* Maintenance: :meth:`Cache.info` (size on disk without the transient -shm index, entries per service, oldest
  and newest), :meth:`Cache.prune`
  (entries older than a duration) and :meth:`Cache.clear`; both shrink the file (``VACUUM``). The command line
  is ``dqquery cache info|clear|prune --older-than DURATION``.
* Thread-safe: one connection guarded by a lock (SQLite serialises writers anyway); several processes may
  share a file (WAL, a busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .http import CacheMiss, SourceError

__all__ = ["Cache", "CacheError", "CacheInfo", "CacheMiss", "decode_columns", "default_cache_path", "encode_columns", "parse_duration"]

SCHEMA_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key       BLOB PRIMARY KEY,
    service   TEXT NOT NULL,
    endpoint  TEXT NOT NULL,
    body      BLOB NOT NULL,
    sha256    BLOB NOT NULL,
    stored_at REAL NOT NULL
)
"""
CACHE_FILE_MODE = 0o600
CACHE_DIR_MODE = 0o700
WAL_SIZE_LIMIT = 1 << 20  # bytes the write-ahead log is truncated to after a checkpoint
COMPRESSION_LEVEL = 6  # level 9 saves under 2 % more on the demo year and takes twice as long


class CacheError(SourceError):
    """The cache file can not be used (a newer schema, not an SQLite file)."""


def default_cache_path() -> Path:
    """Where the cache lives unless told otherwise (see the module docstring)."""
    explicit = os.environ.get("DQQUERY_CACHE_DIR")
    if explicit:
        return Path(explicit) / "http-cache.sqlite"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dqquery" / "http-cache.sqlite"


SERVICE_LABELS = {"rr": "Run Registry", "dials": "DIALS", "oms": "OMS"}


def describe_request(request: str, limit: int = 160) -> str:
    """A canonical request key as one short line: ``POST /runs_filtered_ordered {"filter": ...}`` (shortened)."""
    try:
        parsed = json.loads(request)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        text = request
    else:
        query = "&".join(f"{k}={v}" for k, v in parsed.get("params") or [])
        body = parsed.get("body")
        text = f"{parsed.get('method', '')} {parsed.get('path', '')}{'?' + query if query else ''}"
        if body is not None:
            text += " " + json.dumps(body, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "..."


def offline_miss_message(service: str, request: str, path: Path, ttl: float | None, *, stale: bool) -> str:
    """Why an offline lookup failed, and what to do (fill the cache once online)."""
    label = SERVICE_LABELS.get(service, service)
    if stale:
        age = f"{ttl / 86400:g} days" if ttl is not None and ttl >= 86400 else f"{ttl:g} s"
        why = f"is in the cache {path} but older than its time-to-live ({age})"
    else:
        why = f"is not in the cache {path}"
    return (f"offline mode: the {label} answer to {describe_request(request)} {why}\n"
            "run the same command once without --offline (Python: Cache(offline=False)) to fetch and cache it")


# ------------------------------------------------------------------------------------------- encoding

_LIST, _TABLE, _RUNS = "L", "T", "R"


def encode_columns(value: Any) -> Any:
    """A JSON value in columnar form (lossless; :func:`decode_columns` inverts it).

    Every list becomes ``["L", items...]``, except a non-empty list of objects, which becomes
    ``["T", shapes, shape_of_each_row, columns]``: ``shapes`` are the distinct key lists (in their order),
    ``columns`` one encoded list per key (first-appearance order) holding the values of the rows that have it;
    and a list of mostly repeated consecutive values, which becomes ``["R", [value, count], ...]``.
    """
    if isinstance(value, dict):
        return {k: encode_columns(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(row, dict) for row in value):
            shapes: dict[tuple[str, ...], int] = {}
            keys: dict[str, list[Any]] = {}
            row_shapes = []
            for row in value:
                shape = tuple(row)
                row_shapes.append(shapes.setdefault(shape, len(shapes)))
                for k, v in row.items():
                    keys.setdefault(k, []).append(v)
            return [_TABLE, [list(s) for s in shapes], row_shapes, [[k, encode_columns(col)] for k, col in keys.items()]]
        runs = _runs_of_equal(value)
        if len(runs) * 2 <= len(value):  # mostly repeated values: run-length encoded
            return [_RUNS, *([encode_columns(v), n] for v, n in runs)]
        return [_LIST, *(encode_columns(v) for v in value)]
    return value


def _same_scalar(a: Any, b: Any) -> bool:
    if type(a) is not type(b) or isinstance(a, (list, dict)):
        return False
    return repr(a) == repr(b) if isinstance(a, float) else bool(a == b)


def _runs_of_equal(values: list[Any]) -> list[tuple[Any, int]]:
    """``[(value, count), ...]`` of consecutive identical scalars (same type and same JSON text: ``True`` and
    ``1``, ``1`` and ``1.0``, ``0.0`` and ``-0.0`` stay apart); lists and objects are never merged."""
    runs: list[tuple[Any, int]] = []
    for v in values:
        if runs and _same_scalar(runs[-1][0], v):
            runs[-1] = (v, runs[-1][1] + 1)
        else:
            runs.append((v, 1))
    return runs


def decode_columns(value: Any) -> Any:
    """The value :func:`encode_columns` encoded."""
    if isinstance(value, dict):
        return {k: decode_columns(v) for k, v in value.items()}
    if isinstance(value, list):
        if value[0] == _LIST:
            return [decode_columns(v) for v in value[1:]]
        if value[0] == _RUNS:
            return [decode_columns(v) for v, n in value[1:] for _ in range(n)]
        _, shapes, row_shapes, columns = value
        iterators = {k: iter(decode_columns(col)) for k, col in columns}
        return [{k: next(iterators[k]) for k in shapes[s]} for s in row_shapes]
    return value


def _preset_dictionary() -> bytes:
    """zlib's preset dictionary: the names RR's answers repeat in every entry (most frequent last, where zlib
    reaches them most cheaply). Built from the field catalog; zlib marks each entry with the dictionary's
    checksum, so an entry written with another dictionary fails to decompress and is dropped as a miss."""
    from ..catalog import RR_LUMISECTION_FLAGS, RR_STORED_OMS_LUMISECTION_NAMES, STATUSES

    def quoted(names: Any) -> str:
        return "".join(f'["{n}",' for n in names)

    text = ('["T",["L",["R","run_number","name","start","end",' + quoted(STATUSES) + quoted(RR_LUMISECTION_FLAGS)
            + quoted(RR_STORED_OMS_LUMISECTION_NAMES) + '"status","comment","cause"]]')
    return text.encode("utf-8")


PRESET_DICTIONARY = _preset_dictionary()


def _pack(value: Any) -> bytes:
    text = json.dumps(encode_columns(value), separators=(",", ":"), ensure_ascii=False)
    packer = zlib.compressobj(COMPRESSION_LEVEL, zdict=PRESET_DICTIONARY)
    return packer.compress(text.encode("utf-8")) + packer.flush()


def _unpack(blob: bytes) -> Any:
    unpacker = zlib.decompressobj(zdict=PRESET_DICTIONARY)
    text = unpacker.decompress(blob) + unpacker.flush()
    if not unpacker.eof:
        raise ValueError("truncated entry")
    return decode_columns(json.loads(text.decode("utf-8")))


def _key(service: str, endpoint: str, request: str) -> bytes:
    return hashlib.sha256("\0".join((service, endpoint, request)).encode("utf-8")).digest()


def _digest(blob: bytes) -> bytes:
    return hashlib.sha256(blob).digest()


# ------------------------------------------------------------------------------------------- durations

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` (a bare number is days) -> seconds; ``ValueError`` otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"cannot read the duration {text!r}: write a number and a unit, e.g. 30d, 12h, 90m, 2w")
    number, unit = float(match.group(1)), (match.group(2) or "d").lower()
    return number * _UNIT_SECONDS[unit]


def human_size(n: int) -> str:
    """``1.2 MB`` (decimal units, as ``ls -h --si`` and quota tools print)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class CacheInfo:
    """What :meth:`Cache.info` reports."""

    path: Path
    size_bytes: int  # the database plus its -wal file (see stored_size)
    entries: int
    per_service: dict[str, int] = field(default_factory=dict)
    oldest: float | None = None  # time.time() of the oldest and newest entry
    newest: float | None = None

    def describe(self) -> str:
        """A few lines for the terminal."""
        lines = [f"cache: {self.path}", f"size: {human_size(self.size_bytes)} ({self.size_bytes} bytes), {self.entries} answers"]
        for service, count in sorted(self.per_service.items()):
            lines.append(f"  {SERVICE_LABELS.get(service, service)}: {count} answers")
        if self.oldest is not None and self.newest is not None:
            stamp = "%Y-%m-%d %H:%M UTC"
            lines.append(f"stored from {time.strftime(stamp, time.gmtime(self.oldest))} "
                         f"to {time.strftime(stamp, time.gmtime(self.newest))}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "size_bytes": self.size_bytes, "entries": self.entries,
                "per_service": dict(sorted(self.per_service.items())), "oldest": self.oldest, "newest": self.newest}


def cache_files(path: Path) -> list[Path]:
    """The database file and SQLite's companions that exist."""
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")) if p.exists()]


def stored_size(path: Path) -> int:
    """What the cache takes on disk: the database and its -wal/-journal files. Not the -shm index: SQLite keeps
    it (32 kB) only while a connection is open and removes it on the last close, so counting it would report an
    empty cache as 45 kB and a fetch's cache 32 kB larger than what stays."""
    return sum(p.stat().st_size for p in cache_files(path) if not p.name.endswith("-shm"))


def _make_private_dirs(folder: Path) -> None:
    """Create ``folder`` (and missing parents) user-only; existing folders are left as they are."""
    missing = []
    for p in (folder, *folder.parents):
        if p.exists():
            break
        missing.append(p)
    for p in reversed(missing):
        try:
            p.mkdir(mode=CACHE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(p, CACHE_DIR_MODE)  # mkdir's mode is filtered by the umask


def _create_private_file(path: Path) -> None:
    """Create the cache file user-only when missing (SQLite gives its -wal/-shm files the same mode)."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, CACHE_FILE_MODE))


def _restrict_to_user(path: Path) -> None:
    """Make an existing cache (an older one, or one created by hand) user-only; files of others are left alone."""
    for p in cache_files(path):
        st = p.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o777 != CACHE_FILE_MODE:
            os.chmod(p, CACHE_FILE_MODE)


class Cache:
    """SQLite cache of JSON answers (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, ttl: float | None = 7 * 24 * 3600.0,
                 offline: bool = False) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        _make_private_dirs(self.path.parent)
        _create_private_file(self.path)
        self.ttl = ttl
        self.offline = offline
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None)
        try:
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self._migrate()
            _restrict_to_user(self.path)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise CacheError(f"cannot use the cache file {self.path}: {exc} "
                             "(remove it, or choose another file with --cache)") from None

    def _migrate(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION`; an older cache is emptied (see the module docstring)."""
        conn = self._conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"it was written by a newer dqquery (cache schema {version}, this one reads {SCHEMA_VERSION})")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have migrated it
            if version != SCHEMA_VERSION:
                conn.execute("DROP TABLE IF EXISTS responses")  # 1: plain JSON text; 2: zlib without the dictionary
                conn.execute(SCHEMA)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def lookup(self, service: str, endpoint: str, request: str) -> tuple[bool, Any]:
        """``(True, value)`` for a fresh, intact entry; ``(False, None)`` otherwise (:class:`CacheMiss` when offline)."""
        key = _key(service, endpoint, request)
        with self._lock:
            row = self._conn.execute("SELECT body, sha256, stored_at FROM responses WHERE key=?", (key,)).fetchone()
            value: Any = None
            if row is not None:
                try:
                    if _digest(bytes(row[0])) != bytes(row[1]):
                        raise ValueError("checksum")
                    value = _unpack(bytes(row[0]))
                except (ValueError, TypeError, zlib.error, IndexError, StopIteration, KeyError):
                    self._conn.execute("DELETE FROM responses WHERE key=?", (key,))
                    row = None
            fresh = row is not None and (self.ttl is None or time.time() - row[2] <= self.ttl)
            if fresh:
                self.hits += 1
                return True, value
            self.misses += 1
        if self.offline:
            raise CacheMiss(offline_miss_message(service, request, self.path, self.ttl, stale=row is not None))
        return False, None

    def get(self, service: str, endpoint: str, request: str) -> Any:
        """The cached value or ``None`` (never raises for a miss, even offline)."""
        offline, self.offline = self.offline, False
        try:
            return self.lookup(service, endpoint, request)[1]
        finally:
            self.offline = offline

    def put(self, service: str, endpoint: str, request: str, value: Any) -> None:
        """Store one answer atomically (its own transaction)."""
        blob = _pack(value)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO responses (key, service, endpoint, body, sha256, stored_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (_key(service, endpoint, request), service, endpoint, blob, _digest(blob), time.time()),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def size_bytes(self) -> int:
        """Bytes on disk: the database and its -wal file (after moving the write-ahead log into the database)."""
        self.checkpoint()
        return stored_size(self.path)

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database and truncate it (SQLite does so itself on the last close)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def info(self) -> CacheInfo:
        """Location, size on disk, entries per service, oldest and newest entry."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            per_service = {s: int(n) for s, n in self._conn.execute("SELECT service, COUNT(*) FROM responses GROUP BY service")}
            oldest, newest = self._conn.execute("SELECT MIN(stored_at), MAX(stored_at) FROM responses").fetchone()
        return CacheInfo(self.path, stored_size(self.path), sum(per_service.values()), per_service, oldest, newest)

    def clear(self, service: str | None = None) -> int:
        """Forget every entry (of one service) and shrink the file; the number of entries removed."""
        with self._lock:
            if service is None:
                removed = self._conn.execute("DELETE FROM responses").rowcount
            else:
                removed = self._conn.execute("DELETE FROM responses WHERE service=?", (service,)).rowcount
            self._shrink()
        return int(removed)

    def prune(self, older_than: float) -> int:
        """Forget entries stored more than ``older_than`` seconds ago and shrink the file; the number removed."""
        with self._lock:
            removed = self._conn.execute("DELETE FROM responses WHERE stored_at < ?", (time.time() - older_than,)).rowcount
            self._shrink()
        return int(removed)

    def _shrink(self) -> None:
        self._conn.execute("VACUUM")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity_ok(self) -> bool:
        """SQLite's own integrity check plus every entry's checksum."""
        with self._lock:
            if self._conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return False
            return all(_digest(bytes(body)) == bytes(sha) for body, sha in self._conn.execute("SELECT body, sha256 FROM responses"))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r}, ttl={self.ttl}, offline={self.offline})"
