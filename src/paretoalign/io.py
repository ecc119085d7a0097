"""Atomic output files: every file the package writes appears whole or not at all.

A writer gets a temporary path in the destination's folder and the file is renamed into
place (``os.replace``, atomic on POSIX) only when the writer returned without an
exception; on an exception the temporary file is removed and an existing destination is
left untouched. A reader therefore never sees a half-written file.

This module sits below every layer and imports only the standard library at import time
(the pipeline's light step wrapper uses it), so any layer may use it. Which file a layer
writes, and how it is read back, belongs to that layer.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "json_default", "write_json", "write_parquet", "write_text"]


class atomic_path:
    """Context manager yielding a temporary path next to ``path``; renamed on success.

    The temporary file (``.<name>.<random>.tmp`` in ``path``'s folder, created empty)
    gets the permissions a plain ``open()`` would give. On an exception it is removed
    and ``path`` is left untouched, so a reader never sees a half-written output file.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        # mkstemp creates 0600; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                os.replace(self.tmp, self.path)
            except BaseException:
                self.tmp.unlink(missing_ok=True)
                raise
        else:
            self.tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: NumPy scalars as Python numbers, arrays as lists, paths as str.

    Raises TypeError (naming the type) for anything else, as ``json.dumps`` does.
    """
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(doc: Any, path: str | os.PathLike, *, allow_nan: bool = True) -> Path:
    """Write ``doc`` as JSON (indent 2, a final newline, :func:`json_default`) atomically.

    ``allow_nan=False`` makes a NaN or infinite float a ValueError (strict JSON) instead
    of the non-standard ``NaN`` / ``Infinity`` tokens.
    """
    text = json.dumps(doc, indent=2, default=json_default, allow_nan=allow_nan)
    return write_text(path, text + "\n")


def write_parquet(frame: Any, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame to parquet (without its index) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path
