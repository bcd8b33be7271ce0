"""Reading and writing files safely: one implementation for golden JSONs, snapshots and plots.

Decisions:
* Writes are atomic: the bytes go to a temporary file in the destination's directory, which is fsynced and
  then ``os.replace``\\ d over the destination; on any failure (including Ctrl-C) the destination is untouched
  and the temporary file removed. The rename is made durable by fsyncing the directory where possible.
* An existing destination keeps its permission bits; a new file gets the usual ``0o666 & ~umask``.
* Reads accept gzip-compressed content whatever the file name (detected from the magic bytes).
"""

from __future__ import annotations

import gzip
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Union

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
    """The bytes of a file, decompressed when they are gzip data; ``error(message)`` is raised for corrupt gzip."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise error(f"{path}: corrupt gzip data: {exc}") from None
    return raw
