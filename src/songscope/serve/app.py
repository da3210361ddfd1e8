"""The FastAPI application of ``songscope serve``: the library and track pages, and the JSON API
they read (see the README's "Viewer" section for the routes).

Track files are served only by catalog id and stems only by the names their separation recorded;
no path or name from a request is joined to a folder. Uploads are sniffed from their bytes,
limited in size before they are read, and stored under the data folder with names the server
chooses.
"""

from __future__ import annotations

import contextlib
import mimetypes
import string
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from ..conventions import HARMONIX_LABELS
from ..errors import SongscopeError
from ..library.catalog import Catalog
from ..version import __version__
from ..viz.figure import LABEL_COLORS
from . import tracks
from .jobs import JobBoard
from .security import SNIFF_BYTES, RequestGuard, audio_type, check_name

__all__ = ["ASSETS", "DEFAULT_MAX_UPLOAD", "ServeSettings", "create_app"]

#: Default upload size limit, bytes.
DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024

#: The files of ``songscope/serve/static`` served under ``/static/``, with their media types.
ASSETS = {"style.css": "text/css", "common.js": "text/javascript", "library.js": "text/javascript",
          "track.js": "text/javascript"}


@dataclass(frozen=True)
class ServeSettings:
    """What a server serves.

    Attributes:
        catalog: the catalog file. data_dir: the server's own folder (uploads go to ``uploads/``).
        token: required from every request when set. max_upload: upload size limit (bytes).
    """

    catalog: Path
    data_dir: Path
    token: str | None = None
    max_upload: int = DEFAULT_MAX_UPLOAD


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def _page(title: str, body: str, script: str) -> str:
    """An HTML page: ``static/page.html`` around the fragment ``static/<body>``, running ``static/<script>``."""
    return string.Template(_asset("page.html")).substitute(title=title, body=_asset(body), script=script)


def _media_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def create_app(settings: ServeSettings) -> RequestGuard:
    """The ASGI application: a :class:`fastapi.FastAPI` behind :class:`~.security.RequestGuard`.

    Its upload jobs run on a worker thread that stops with the application's lifespan."""
    board = JobBoard(settings.catalog)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        board.close()

    app = FastAPI(title="songscope", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)

    def catalog() -> Catalog:
        """The catalog, opened for one request (a connection per thread; WAL lets jobs write meanwhile)."""
        return Catalog(settings.catalog)

    def found(catalog: Catalog, track_id: int) -> tuple[Path, str]:
        track = catalog.track(track_id)
        if track is None:
            raise HTTPException(404, f"no track {track_id}")
        return Path(track[0]), track[1]

    def served_file(path: Path) -> FileResponse:
        if not path.is_file():
            raise HTTPException(404, "the file is no longer where the catalog says it is")
        return FileResponse(path, media_type=_media_type(path))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": problems}, status_code=400)

    @app.exception_handler(SongscopeError)
    async def songscope_error(request: Request, exc: SongscopeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/", response_class=HTMLResponse)
    def library_page() -> str:
        return _page("library", "library.html", "library.js")

    @app.get("/track/{track_id}", response_class=HTMLResponse)
    def track_page(track_id: int) -> str:
        with catalog() as opened:
            found(opened, track_id)
        return _page("track", "track.html", "track.js")

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if check_name(name) is None:
            raise HTTPException(400, "not a plain file name")
        if name not in ASSETS:
            raise HTTPException(404, f"no asset {name}")
        return Response(_asset(name), media_type=ASSETS[name])

    @app.get("/api/meta")
    def meta() -> dict[str, Any]:
        return {"version": __version__, "labels": list(HARMONIX_LABELS), "label_colors": LABEL_COLORS,
                "max_upload": settings.max_upload}

    @app.get("/api/tracks")
    def track_list(q: str = "", bpm_min: float | None = None, bpm_max: float | None = None, key: str | None = None,
                   label: str | None = None, duration_min: float | None = None, duration_max: float | None = None,
                   time_signature: str | None = None,
                   limit: int | None = Query(None, ge=1)) -> list[dict[str, Any]]:
        where, params = tracks.filter_query(q, bpm_min, bpm_max, key, label, duration_min, duration_max,
                                            time_signature)
        with catalog() as opened:
            return tracks.list_tracks(opened, where, params, limit)

    @app.get("/api/tracks/{track_id}")
    def track(track_id: int) -> dict[str, Any]:
        with catalog() as opened:
            detail = tracks.track_detail(opened, track_id)
        if detail is None:
            raise HTTPException(404, f"no track {track_id}")
        return detail

    @app.get("/api/tracks/{track_id}/analysis")
    def track_analysis(track_id: int) -> dict[str, Any]:
        with catalog() as opened:
            result = tracks.analysis(opened, found(opened, track_id)[1])
        if result is None:
            raise HTTPException(404, f"track {track_id} is not analysed yet (songscope library run analyze)")
        return {"id": track_id, **result}

    @app.get("/api/tracks/{track_id}/waveform")
    def track_waveform(track_id: int, points: int = Query(2000, ge=16, le=20000)) -> dict[str, Any]:
        with catalog() as opened:
            path, sha = found(opened, track_id)
        if not path.is_file():
            raise HTTPException(404, "the file is no longer where the catalog says it is")
        return tracks.waveform(str(path), sha, points)

    @app.get("/api/tracks/{track_id}/audio")
    def track_audio(track_id: int) -> FileResponse:
        with catalog() as opened:
            path, _ = found(opened, track_id)
        return served_file(path)

    @app.get("/api/tracks/{track_id}/stems/{stem}")
    def track_stem(track_id: int, stem: str) -> FileResponse:
        if check_name(stem) is None:
            raise HTTPException(400, "not a stem name")
        with catalog() as opened:
            stems = tracks.stem_files(opened, found(opened, track_id)[1])
        if stem not in stems:
            raise HTTPException(404, f"track {track_id} has no stem {stem!r}")
        return served_file(stems[stem])

    @app.get("/api/tracks/{track_id}/covers")
    def track_covers(track_id: int) -> dict[str, Any]:
        with catalog() as opened:
            return tracks.cover_matches(opened, found(opened, track_id)[1])

    @app.post("/api/upload", status_code=202)
    async def upload(request: Request, filename: str = "upload") -> JSONResponse:
        if check_name(filename) is None:
            raise HTTPException(400, "filename must be a plain file name")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > settings.max_upload):
            raise HTTPException(413 if declared.isdigit() else 400,
                                f"uploads are limited to {settings.max_upload} bytes")
        stored = await _receive_upload(request, settings.data_dir / "uploads", settings.max_upload)
        job = board.submit(stored, filename)
        return JSONResponse(job.to_dict(), status_code=202, headers={"location": f"/api/jobs/{job.id}"})

    @app.get("/api/jobs")
    def job_list() -> list[dict[str, Any]]:
        return board.all()

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        snapshot = board.get(job_id)
        if snapshot is None:
            raise HTTPException(404, "no such job")
        return snapshot

    return RequestGuard(app, settings.token)


async def _receive_upload(request: Request, folder: Path, limit: int) -> Path:
    """Stream a request body into ``folder`` under a name of the server's choosing; 413 past
    ``limit`` bytes, 415 when the first bytes are not a known audio container, 400 when empty."""
    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    partial = folder / f".{name}.part"
    size, head, kind = 0, b"", None
    try:
        with partial.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"uploads are limited to {limit} bytes")
                if kind is None:
                    head += chunk[:SNIFF_BYTES]
                    if len(head) >= SNIFF_BYTES:
                        kind = _sniffed(head)
                out.write(chunk)
        if size == 0:
            raise HTTPException(400, "empty upload")
        kind = kind or _sniffed(head)
        stored = folder / f"{name}.{kind}"
        partial.rename(stored)
        return stored
    finally:
        partial.unlink(missing_ok=True)


def _sniffed(head: bytes) -> str:
    kind = audio_type(head)
    if kind is None:
        raise HTTPException(415, "not an audio file (wav, aiff, flac, ogg, mp3, aac, m4a, mka, caf or wma)")
    return kind
