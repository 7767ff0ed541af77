"""Writing and fingerprinting files: one atomic write and one sha256 for every package.

A reader must never see half a file, and a crash must never lose the last good one: every
writer goes through :func:`atomic_file` (a temporary file in the same folder, flushed and
fsync'd, then renamed over the target).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends without an error.

    The data is fsync'd before the rename, so after a crash ``path`` holds either the old or
    the new bytes, never a torn mix; on an error the temporary file is removed and ``path``
    is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; other processes read these files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) through :func:`atomic_file`."""
    with atomic_file(path) as sink:
        sink.write(data.encode() if isinstance(data, str) else data)


def sha256_of(path: Path) -> str:
    """The lowercase hex sha256 of the file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, payload: object) -> None:
    """Replace ``path`` with ``payload`` as indented JSON through :func:`atomic_file`."""
    write_atomic(path, json.dumps(payload, indent=2))
