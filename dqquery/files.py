"""Reading and writing files safely: one implementation for golden JSONs, snapshots and plots.

Decisions:
* Writes are atomic: the bytes go to a temporary file in the destination's directory, which is fsynced and
  then ``os.replace``\\ d over the destination; on any failure (including Ctrl-C) the destination is untouched
  and the temporary file removed. The rename is made durable by fsyncing the directory where possible.
* An existing destination keeps its permission bits; a new file gets the usual ``0o666 & ~umask``. Output
  files (golden JSONs, snapshots, plots) are the user's documents, meant to be shared as any file they write:
  they follow the umask, never more open than it (the temporary file is created ``0o600`` and only then given
  that mode). Caches, which may hold data fetched with the user's credentials, are user-only
  (:mod:`dqquery.sources.cache`).
* Reads accept gzip-compressed content whatever the file name (detected from the magic bytes); a file larger
  than :data:`~dqquery.limits.MAX_FILE_BYTES` (compressed or not) is refused before it is read whole.
* JSON data files are read strictly (:func:`load_json_document`): a key twice in one object, ``NaN`` or
  ``Infinity``, a number longer than :data:`~dqquery.limits.MAX_NUMBER_DIGITS` characters or nesting beyond
  what the decoder allows are errors naming what was found, never silently merged or turned into a traceback.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import secrets
import stat
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from .limits import MAX_FILE_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_DIGITS

PathLike = Union[str, "os.PathLike[str]"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: PathLike, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically (see the module docstring); returns the path."""
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path(".")
    try:
        mode = stat.S_IMODE(os.stat(dest).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    while True:
        tmp = directory / f".{dest.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        except OSError as exc:  # name the file the user asked for, not the temporary one
            reason = "the folder does not exist" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
            raise type(exc)(exc.errno, f"cannot write {dest}: {reason}", str(dest)) from None
        break
    try:
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, mode)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename durable; best effort (not possible on every platform)
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return dest
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dir_fd)
    return dest


def atomic_write_text(path: PathLike, text: str, *, gzip_if_gz: bool = True, compresslevel: int = 9) -> Path:
    """Write UTF-8 text atomically, gzip-compressed (reproducibly: no timestamp) when the name ends in ``.gz``."""
    payload = text.encode("utf-8")
    if gzip_if_gz and Path(path).name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=compresslevel, mtime=0)
    return atomic_write_bytes(path, payload)


def read_maybe_gzip(path: PathLike, error: Callable[[str], Exception]) -> bytes:
    """The bytes of a file, decompressed when they are gzip data; ``error(message)`` is raised for corrupt gzip
    and for content larger than :data:`~dqquery.limits.MAX_FILE_BYTES` (checked while decompressing)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size  # 0 for pipes and special files: then one request up to the limit
        raw = fh.read(min(size, MAX_FILE_BYTES) + 1) if size else b""  # one allocation of the file's size, not 1 GiB
        if len(raw) > size or not size:  # a file that grew while being read, or of unknown size
            raw += fh.read(MAX_FILE_BYTES + 1 - len(raw))
    if len(raw) > MAX_FILE_BYTES:
        raise error(f"{path}: the file is larger than {MAX_FILE_BYTES:,} bytes")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = _gunzip(raw, MAX_FILE_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise error(f"{path}: corrupt gzip data: {exc}") from None
        except _TooLarge:
            raise error(f"{path}: the file is larger than {MAX_FILE_BYTES:,} bytes once decompressed") from None
    return raw


class _TooLarge(Exception):
    pass


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress (possibly concatenated) gzip members, stopping as soon as the output passes ``limit``."""
    out: list[bytes] = []
    size = 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while True:
            chunk = inflater.decompress(data, 1 << 20)
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            out.append(chunk)
            data = inflater.unconsumed_tail
            if inflater.eof or not data:
                break
        if not inflater.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        data = inflater.unused_data
        if data.strip(b"\x00") == b"":  # trailing padding after the last member
            break
    return b"".join(out)


class JSONContentError(ValueError):
    """Raised inside the decoder by :func:`load_json_document`'s hooks (turned into the caller's error)."""


def _refuse_constant(name: str) -> Any:
    raise JSONContentError(f"{name} is not a number dqquery accepts (write a finite number, or null for missing)")


def _checked_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JSONContentError(f"a number with {len(text):,} digits ({text[:20]}...) is longer than the limit of {MAX_NUMBER_DIGITS}")
    return int(text)


def _checked_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JSONContentError(f"a number written with {len(text):,} characters ({text[:20]}...) is longer than the limit of {MAX_NUMBER_DIGITS}")
    value = float(text)
    if not math.isfinite(value):
        raise JSONContentError(f"the number {text[:40]} is too large for a float")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise JSONContentError(f"the key {key!r} appears twice in one object (the second would replace the first)")
            seen.add(key)
    return out


def nesting_exceeds(document: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``document`` (decoded JSON: dicts, lists, scalars) nests deeper than ``limit`` (a scalar is 0, ``[]``
    is 1). Iterative: safe for any depth."""
    stack = [(document, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if not isinstance(node, (dict, list, tuple)):
            continue
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list, tuple)):
                push((child, depth + 1))
    return False


def load_json_document(raw: bytes | str, error: Callable[[str], Exception]) -> Any:
    """Decode a JSON data file strictly (see the module docstring); every problem is ``error(message)``."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text: {exc}") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_checked_int,
            parse_float=_checked_float,
            parse_constant=_refuse_constant,
        )
    except JSONContentError as exc:
        raise error(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise error(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise error("the JSON is nested too deeply") from None
