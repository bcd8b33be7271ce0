"""A local SQLite cache of service answers, safe against interruption.

Decisions:
* One table keyed by ``(service, endpoint, canonical request)``; the canonical request is sorted-key JSON
  of method, path, query parameters and body, and never contains headers, so credentials can not enter the
  cache. The value is the decoded JSON answer, stored as text with its SHA-256; an entry whose checksum does
  not match is treated as absent (and dropped), never returned.
* Durability: WAL journal, ``synchronous=FULL``, one transaction per stored answer. A fetch interrupted
  at any point (Ctrl-C, a crash, ``kill -9``) keeps every answer stored before the interruption and never
  leaves a partial entry; re-running the fetch asks the network only for what is missing.
* ``ttl`` (seconds, ``None`` = forever) limits how old an answer may be to be used. ``offline=True`` serves
  only from the cache: a miss raises :class:`CacheMiss` naming the request (the network is never used).
* Location: ``path=`` argument, else ``$DQQUERY_CACHE_DIR/http-cache.sqlite``, else
  ``$XDG_CACHE_HOME/dqquery/http-cache.sqlite``, else ``~/.cache/dqquery/http-cache.sqlite``.
* Thread-safe: one connection guarded by a lock (SQLite serialises writers anyway); several processes may
  share a file (WAL, a busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .http import SourceError

__all__ = ["Cache", "CacheMiss", "default_cache_path"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    service   TEXT NOT NULL,
    endpoint  TEXT NOT NULL,
    request   TEXT NOT NULL,
    body      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    stored_at REAL NOT NULL,
    PRIMARY KEY (service, endpoint, request)
)
"""


class CacheMiss(SourceError):
    """Offline mode and the answer is not cached (or too old)."""


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


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache:
    """SQLite cache of JSON answers (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, ttl: float | None = 7 * 24 * 3600.0,
                 offline: bool = False) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self.offline = offline
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute(SCHEMA)

    def lookup(self, service: str, endpoint: str, request: str) -> tuple[bool, Any]:
        """``(True, value)`` for a fresh, intact entry; ``(False, None)`` otherwise (:class:`CacheMiss` when offline)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT body, sha256, stored_at FROM responses WHERE service=? AND endpoint=? AND request=?",
                (service, endpoint, request),
            ).fetchone()
            if row is not None and _digest(row[0]) != row[1]:
                self._conn.execute("DELETE FROM responses WHERE service=? AND endpoint=? AND request=?",
                                   (service, endpoint, request))
                row = None
            fresh = row is not None and (self.ttl is None or time.time() - row[2] <= self.ttl)
            if fresh:
                self.hits += 1
                return True, json.loads(row[0])  # type: ignore[index]
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
        body = json.dumps(value, separators=(",", ":"))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO responses (service, endpoint, request, body, sha256, stored_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (service, endpoint, request, body, _digest(body), time.time()),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def clear(self, service: str | None = None) -> None:
        """Forget every entry (of one service)."""
        with self._lock:
            if service is None:
                self._conn.execute("DELETE FROM responses")
            else:
                self._conn.execute("DELETE FROM responses WHERE service=?", (service,))

    def integrity_ok(self) -> bool:
        """SQLite's own integrity check plus every entry's checksum."""
        with self._lock:
            if self._conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return False
            return all(_digest(body) == sha for body, sha in self._conn.execute("SELECT body, sha256 FROM responses"))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r}, ttl={self.ttl}, offline={self.offline})"
