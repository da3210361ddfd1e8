"""Finding, verifying and downloading checkpoint files.

A model is found, in order: an explicit path; ``$SONGSCOPE_MODEL_DIR/<file>``; the user
cache ``$XDG_CACHE_HOME/songscope/models/<file>`` (``~/.cache/...``); a download into that
cache when the entry has a URL and ``SONGSCOPE_OFFLINE`` is not set. Every registered file
is checked against its sha256, where its publisher gives one (a downloaded file without one has
its digest printed). Offline, a missing checkpoint is a clear error naming the
file and where to put it, never a hang.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ..atomic import atomic_path
from ..errors import CheckpointError
from .catalog import ModelEntry

__all__ = ["cache_dir", "fetch", "sha256_of"]

_DOWNLOAD_TIMEOUT = 30


def cache_dir() -> Path:
    """Folder where downloaded checkpoints live."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "songscope" / "models"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, entry: ModelEntry) -> Path:
    if entry.sha256 is None:
        return path
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise CheckpointError(f"{path}: sha256 {actual[:12]}... does not match the {entry.name!r} checkpoint "
                         f"({entry.sha256[:12]}...); delete it and fetch it again")
    return path


def _download(entry: ModelEntry, target: Path) -> Path:
    try:
        with urllib.request.urlopen(entry.url, timeout=_DOWNLOAD_TIMEOUT) as response, atomic_path(target) as tmp:
            with open(tmp, "wb") as handle:
                for block in iter(lambda: response.read(1 << 20), b""):
                    handle.write(block)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise CheckpointError(f"checkpoint {entry.name!r} ({entry.filename}) is not in {target.parent} and could "
                         f"not be downloaded ({exc}); fetch {entry.url} into {target.parent} or pass its path") from None
    if entry.sha256 is None:
        print(f"songscope: note: {entry.name}: no published sha256 to check {entry.filename} against; "
              f"its sha256 is {sha256_of(target)}", file=sys.stderr)
    return _verified(target, entry)


def fetch(entry: ModelEntry) -> Path:
    """Local path of a catalogued checkpoint: ``$SONGSCOPE_MODEL_DIR``, then the cache, then a
    download into the cache (online only); checked against its sha256 when the catalog has one.

    Raises:
        CheckpointError: missing offline, failed download, or wrong sha256.
    """
    folders = [Path(p) for p in [os.environ.get("SONGSCOPE_MODEL_DIR")] if p] + [cache_dir()]
    for folder in folders:
        candidate = folder / entry.filename
        if candidate.is_file():
            return _verified(candidate, entry)
    target = cache_dir() / entry.filename
    if os.environ.get("SONGSCOPE_OFFLINE") or entry.url is None:
        where = " or ".join(str(f) for f in folders)
        raise CheckpointError(f"checkpoint {entry.name!r} ({entry.filename}) not found in {where}; offline, so not "
                              f"downloaded: fetch {entry.url} into {target.parent}, set SONGSCOPE_MODEL_DIR, or pass "
                              "its path")
    return _download(entry, target)
