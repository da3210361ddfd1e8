"""Starting ``songscope serve``: which catalog and data folder, the token rule, the listening
socket and uvicorn. Nothing here imports FastAPI or uvicorn until a server really starts."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path
from typing import TextIO

from ..errors import ConfigError, InputError
from .security import is_loopback, new_token

__all__ = ["listen", "open_target", "run_server"]

#: Tokens go into cookies and URLs: these characters only, and long enough not to be guessed.
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,}")


def open_target(target: Path | None, data_dir: Path | None, quiet: bool = True,
                progress: bool = False) -> tuple[Path, Path]:
    """The catalog file and the data folder a server uses.

    Args:
        target: a catalog file (created when absent, if it ends in ``.db``), a folder (its
            ``songscope.db`` is used or created and the folder's audio is added to it), or None
            (``./songscope.db``).
        data_dir: the server's folder for uploads; default ``<catalog stem>.serve`` next to the catalog.
        quiet: no summary of the catalog on stderr. progress: a progress bar while adding a folder.

    Returns:
        ``(catalog, data folder)``, both existing.

    Raises:
        InputError: a path that is neither a folder, a catalog nor a new ``.db`` file, or a file
            that is not a songscope catalog.
    """
    from ..library.catalog import Catalog
    from ..library.jobs import add_paths
    from ..library.runner import default_jobs

    target = Path("songscope.db") if target is None else target
    folder = target if target.is_dir() else None
    catalog = folder / "songscope.db" if folder is not None else target
    if folder is None and not target.exists() and target.suffix != ".db":
        raise InputError(f"{target}: no such folder or catalog (a new catalog's name ends in .db)")
    with Catalog(catalog) as opened:
        if folder is not None and _has_audio(folder):
            outcome, failures = add_paths(opened, [folder], jobs=default_jobs(), progress=progress)
            if not quiet:
                added = ", ".join(f"{len(paths)} {kind}" for kind, paths in outcome.items() if paths)
                print(f"songscope: {folder}: {added or 'nothing new'}"
                      f"{f', {len(failures)} not audio' if failures else ''}", file=sys.stderr)
        status = opened.status()
    if not quiet:
        analysed = sum(row["count"] for row in status["results"] if row["task"] == "analyze")
        print(f"songscope: {status['tracks']} tracks, {analysed} analyses in {catalog}; `songscope library run "
              f"analyze --catalog {catalog}` analyses the rest", file=sys.stderr)
    data = data_dir if data_dir is not None else catalog.parent / f"{catalog.stem}.serve"
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{data}: cannot create the data folder ({exc.strerror})") from None
    return catalog, data


def _has_audio(folder: Path) -> bool:
    from ..library.inputs import expand_inputs

    try:
        expand_inputs([folder])
    except InputError:
        return False
    return True


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    Raises:
        InputError: the address cannot be used (in use, not this machine's, ...).
    """
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, got {port}")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def run_server(target: Path | None, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
               data_dir: Path | None = None, max_upload: int | None = None, quiet: bool = False,
               progress: bool = False, out: TextIO = sys.stdout) -> int:
    """Serve a catalog until interrupted (``songscope serve``); returns the exit status.

    Bound beyond loopback the server requires a token: ``token``, or a new one printed on ``out``.

    Args:
        target, data_dir, quiet, progress: see :func:`open_target`. host, port: where to listen (port 0: any free
            port; the URL printed says which). max_upload: upload limit in bytes (default 200 MiB).

    Raises:
        ConfigError: FastAPI or uvicorn is missing, or the token is unusable.
        InputError: see :func:`open_target` and :func:`listen`.
    """
    try:
        import uvicorn

        from .app import DEFAULT_MAX_UPLOAD, ServeSettings, create_app
    except ImportError as exc:
        raise ConfigError(f"songscope serve needs FastAPI and uvicorn ({exc.name} is missing): "
                          "pip install 'songscope[serve]'") from None
    if token is not None and not _TOKEN.fullmatch(token):
        raise ConfigError("--token must be at least 16 characters among A-Z a-z 0-9 . _ ~ -")
    if max_upload is not None and max_upload < 1:
        raise ConfigError("--max-upload must be positive")
    if token is None and not is_loopback(host):
        token = new_token()
    catalog, data = open_target(target, data_dir, quiet, progress)
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    where = f"[{host}]" if ":" in host else host
    app = create_app(ServeSettings(catalog, data, token, max_upload or DEFAULT_MAX_UPLOAD))
    print(f"songscope: serving {catalog} on http://{where}:{bound}/" +
          (f"?token={token}" if token else ""), file=out, flush=True)
    if token is not None:
        print(f"songscope: token: {token} (send it as 'Authorization: Bearer TOKEN')", file=out, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
    return 0
