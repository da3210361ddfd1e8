"""``songscope serve``: the real server (uvicorn on a free loopback port, in a thread, or the CLI
in a subprocess), its JSON API on a catalog built by ``songscope library``, its security rules,
an upload analysed in the background, and the pages in a real headless Chromium."""

from __future__ import annotations

import http.client
import io
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="songscope serve needs FastAPI (pip install 'songscope[serve]')")
uvicorn = pytest.importorskip("uvicorn", reason="songscope serve needs uvicorn (pip install 'songscope[serve]')")
httpx = pytest.importorskip("httpx", reason="the serve tests need httpx (pip install 'songscope[test]')")

from songscope.cli import main  # noqa: E402
from songscope.library.catalog import Catalog  # noqa: E402
from songscope.library.jobs import LibraryJob, run_job  # noqa: E402
from songscope.result import AnalysisResult  # noqa: E402
from songscope.serve.app import ServeSettings, create_app  # noqa: E402
from songscope.serve.server import listen  # noqa: E402
from songscope.viz.figure import LABEL_COLORS  # noqa: E402

from .conftest import SR  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
MAX_UPLOAD = 1 << 20  # the test server's upload limit (bytes)
STEMS = ["bass", "drums", "other", "vocals"]


def _wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def library(tmp_path_factory, song44) -> dict:
    """A catalog built with ``songscope library``: the whole 4/4 song and two 8-second excerpts,
    analysed; the first excerpt also separated; one more file added after the run (not analysed)."""
    root = tmp_path_factory.mktemp("serve")
    music = root / "music"
    music.mkdir()
    mix = song44[1]["mixture"]
    sf.write(music / "full.wav", mix, SR, subtype="PCM_16")
    for i in (1, 2):
        sf.write(music / f"clip{i}.wav", (0.4 + 0.2 * i) * mix[i * 10 * SR:(i * 10 + 8) * SR], SR, subtype="PCM_16")
    db = root / "lib.db"
    assert main(["library", "add", str(music), "--catalog", str(db), "-q"]) == 0
    assert main(["library", "run", "analyze", "--catalog", str(db), "-q", "-j", "2"]) == 0
    late = root / "late"
    late.mkdir()
    sf.write(late / "later.wav", 0.7 * mix[40 * SR:48 * SR], SR, subtype="PCM_16")
    assert main(["library", "add", str(late), "--catalog", str(db), "-q"]) == 0
    with Catalog(db) as catalog:
        ids = {Path(path).name: i for path, i in catalog.track_ids().items()}
        shas = {Path(path).name: sha for path, sha in catalog.tracks()}
        assert run_job(catalog, LibraryJob("separate", stems_dir=root / "stems"), only={shas["clip1.wav"]})[0] == 1
    return {"root": root, "db": db, "music": music, "ids": ids, "shas": shas, "data": root / "data"}


class ServerThread:
    """The real application under uvicorn on a free port of 127.0.0.1, in a background thread."""

    def __init__(self, settings: ServeSettings):
        self.sock = listen("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def server(library):
    with ServerThread(ServeSettings(library["db"], library["data"], None, MAX_UPLOAD)) as running:
        yield running


def _get(server, path: str, **kwargs) -> httpx.Response:
    return httpx.get(server.url + path, timeout=30, **kwargs)


def _raw(port: int, request: bytes, body: list[bytes] = (), host: str = "127.0.0.1") -> tuple[int, bytes]:
    """Send a request exactly as given (no client-side normalisation of ``..``), then its body in
    pieces, stopping as soon as the server answers; returns ``(status, response body)``."""
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(request)
        for piece in body:
            if select.select([conn], [], [], 0)[0]:
                break  # the server answered before reading everything: stop sending
            try:
                conn.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply) < _expected_length(reply):
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, content = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), content


def _expected_length(reply: bytes) -> int:
    head, _, _ = reply.partition(b"\r\n\r\n")
    found = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    return len(head) + 4 + (int(found.group(1)) if found else 0)


def _uploads(library) -> set[str]:
    folder = library["data"] / "uploads"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _wait_for_job(server, job_id: str, seconds: float = 120.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = _get(server, f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_library_page_and_track_list(server, library):
    page = _get(server, "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<table id="tracks">' in page.text and "/static/library.js" in page.text
    for name, kind in (("library.js", "text/javascript"), ("track.js", "text/javascript"), ("style.css", "text/css")):
        asset = _get(server, f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    tracks = _get(server, "/api/tracks").json()
    assert sorted(Path(t["path"]).name for t in tracks) == ["clip1.wav", "clip2.wav", "full.wav", "later.wav"]
    for track in tracks:
        assert set(track) >= {"id", "path", "sha256", "duration", "bpm", "key", "time_signature", "labels"}
        assert track["id"] == library["ids"][Path(track["path"]).name]
        analysed = Path(track["path"]).name != "later.wav"
        assert bool(track["bpm"] is not None and track["key"] and track["labels"]) == analysed
    assert _get(server, "/api/meta").json()["label_colors"] == LABEL_COLORS


def test_filters_reuse_the_query_language(server, library):
    everything = _get(server, "/api/tracks").json()

    def names(**params) -> list[str]:
        found = _get(server, "/api/tracks", params=params)
        assert found.status_code == 200, found.text
        return [Path(t["path"]).name for t in found.json()]

    def expected(keep) -> list[str]:
        return [Path(t["path"]).name for t in everything if keep(t)]

    full = next(t for t in everything if t["path"].endswith("full.wav"))
    assert names(bpm_min=full["bpm"] - 1, bpm_max=full["bpm"] + 1) == expected(
        lambda t: t["bpm"] is not None and abs(t["bpm"] - full["bpm"]) <= 1)
    assert names(key=full["key"]) == expected(lambda t: t["key"] == full["key"])
    rare = min(set(full["labels"]), key=lambda label: sum(label in t["labels"] for t in everything))
    assert names(label=rare) == expected(lambda t: rare in t["labels"])
    assert names(duration_min=20) == ["full.wav"]
    assert names(duration_max=20, q="bpm is not null") == ["clip1.wav", "clip2.wav"]
    assert names(q="bpm is null") == ["later.wav"]
    assert len(names(limit=2)) == 2
    for params, message in (({"q": "tempo > 3"}, "unknown field 'tempo'"), ({"bpm_min": "fast"}, "bpm_min"),
                            ({"key": "A' \" minor"}, "both kinds of quotes"), ({"limit": 0}, "limit")):
        bad = _get(server, "/api/tracks", params=params)
        assert bad.status_code == 400 and message in bad.json()["detail"], bad.text


def test_track_analysis_waveform_audio_and_stems(server, library):
    ids, shas = library["ids"], library["shas"]
    full, clip, late = ids["full.wav"], ids["clip1.wav"], ids["later.wav"]
    detail = _get(server, f"/api/tracks/{full}").json()
    assert detail["analyzed"] and detail["stems"] == [] and detail["path"].endswith("full.wav")
    analysis = _get(server, f"/api/tracks/{full}/analysis").json()
    with Catalog(library["db"]) as catalog:
        assert {k: v for k, v in analysis.items() if k != "id"} == catalog.latest(shas["full.wav"], "analyze")[0]
    result = AnalysisResult.from_dict(analysis)
    assert len(result.segments) >= 4 and len(result.downbeats) > 10 and result.bpm == detail["bpm"]
    not_yet = _get(server, f"/api/tracks/{late}/analysis")
    assert not_yet.status_code == 404 and "not analysed" in not_yet.json()["detail"]
    assert _get(server, f"/api/tracks/{late}").json()["analyzed"] is False

    wave = _get(server, f"/api/tracks/{full}/waveform", params={"points": 500}).json()
    samples = sf.read(library["music"] / "full.wav")[0]
    assert 500 <= len(wave["peaks"]) == len(wave["times"]) <= 510
    assert wave["duration"] == pytest.approx(len(samples) / SR, abs=1e-3)
    assert max(wave["peaks"]) == pytest.approx(np.abs(samples).max(), abs=0.05)
    assert _get(server, f"/api/tracks/{full}/waveform", params={"points": 1}).status_code == 400

    data = (library["music"] / "full.wav").read_bytes()
    audio = _get(server, f"/api/tracks/{full}/audio")
    assert audio.status_code == 200 and audio.content == data and audio.headers["accept-ranges"] == "bytes"
    part = _get(server, f"/api/tracks/{full}/audio", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert _get(server, f"/api/tracks/{full}/audio", headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416

    assert _get(server, f"/api/tracks/{clip}").json()["stems"] == STEMS
    with Catalog(library["db"]) as catalog:
        vocals = Path(catalog.latest(shas["clip1.wav"], "separate")[0]["vocals"])
    stem = _get(server, f"/api/tracks/{clip}/stems/vocals")
    assert stem.status_code == 200 and stem.content == vocals.read_bytes()
    assert _get(server, f"/api/tracks/{clip}/stems/guitar").status_code == 404
    assert _get(server, f"/api/tracks/{full}/stems/vocals").status_code == 404
    for path in ("", "/analysis", "/waveform", "/audio", "/stems/vocals", "/covers"):
        assert _get(server, f"/api/tracks/9999{path}").status_code == 404, path
    assert _get(server, "/track/9999").status_code == 404


def test_cover_matches_come_from_the_catalogs_fingerprints(server, library):
    ids, shas = library["ids"], library["shas"]
    assert _get(server, f"/api/tracks/{ids['full.wav']}/covers").json() == {"model": None, "matches": []}
    vectors = {"full.wav": [1.0, 0.0, 0.0], "clip1.wav": [0.6, 0.8, 0.0], "clip2.wav": [0.0, 0.0, 1.0]}
    with Catalog(library["db"]) as catalog:  # what `library run covers-index` records, from a covers engine
        for name, vector in vectors.items():
            catalog.record(shas[name], "covers-index", "test-fingerprints", "{}", {"dim": 3},
                           vector=np.array(vector, np.float32))
    found = _get(server, f"/api/tracks/{ids['full.wav']}/covers").json()
    assert found["model"] == "test-fingerprints"
    assert [(m["id"], m["work"]) for m in found["matches"]] == [(ids["clip1.wav"], "clip1"), (ids["clip2.wav"], "clip2")]
    assert [m["distance"] for m in found["matches"]] == pytest.approx([0.4, 1.0], abs=1e-6)
    assert _get(server, f"/api/tracks/{ids['later.wav']}/covers").json() == {"model": None, "matches": []}


def test_an_upload_is_analysed_in_the_background(server, library, song44):
    body = _wav_bytes(0.8 * song44[1]["mixture"][60 * SR:70 * SR])
    posted = httpx.post(server.url + "/api/upload", params={"filename": "my song.wav"}, content=body, timeout=30)
    assert posted.status_code == 202, posted.text
    job = posted.json()
    assert job["name"] == "my song.wav" and job["state"] in ("queued", "adding", "analyzing", "done")
    assert posted.headers["location"] == f"/api/jobs/{job['id']}"
    job = _wait_for_job(server, job["id"])
    assert job["state"] == "done" and job["progress"] == 1.0 and job["track_id"] is not None, job
    track = _get(server, f"/api/tracks/{job['track_id']}").json()
    stored = Path(track["path"])
    assert stored.parent == (library["data"] / "uploads").resolve() and re.fullmatch(r"[0-9a-f]{32}\.wav", stored.name)
    assert stored.read_bytes() == body and track["analyzed"] and track["bpm"] is not None
    assert job["id"] in [j["id"] for j in _get(server, "/api/jobs").json()]
    assert job["track_id"] in [t["id"] for t in _get(server, "/api/tracks").json()]
    again = _wait_for_job(server, httpx.post(server.url + "/api/upload", content=body, timeout=30).json()["id"])
    assert again["state"] == "done" and "already in the catalog" in again["message"]


def test_uploads_are_limited_and_sniffed_from_their_bytes(server, library):
    before = _uploads(library)
    header = (f"POST /api/upload?filename=big.wav HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
              "Content-Type: application/octet-stream\r\n").encode()
    start = time.monotonic()
    status, _ = _raw(server.port, header + b"Content-Length: 10737418240\r\n\r\n" + _wav_bytes(np.zeros(SR))[:64])
    assert status == 413 and time.monotonic() - start < 5  # refused from the header, 10 GB never read
    riff = _wav_bytes(np.zeros(SR))
    chunks = [riff] + [b"\0" * 65536] * (MAX_UPLOAD // 65536 + 4)
    chunked = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks] + [b"0\r\n\r\n"]
    status, reply = _raw(server.port, header + b"Transfer-Encoding: chunked\r\n\r\n", chunked)
    assert status == 413 and b"limited" in reply  # no length given: counted while streaming
    for content in (b"<!doctype html><html><body>not a song</body></html>" * 20,
                    b"\x89PNG\r\n\x1a\n" + bytes(200), b"MZ\x90\x00" + bytes(300)):
        refused = httpx.post(server.url + "/api/upload", params={"filename": "song.wav"}, content=content, timeout=30)
        assert refused.status_code == 415, refused.text
    assert httpx.post(server.url + "/api/upload", content=b"", timeout=30).status_code == 400
    assert _uploads(library) == before  # nothing refused was kept, not even a partial file
    fake = b"RIFF\x24\x00\x00\x00WAVE" + b"garbage!" * 40  # looks like a WAV, is not one
    job = httpx.post(server.url + "/api/upload", params={"filename": "fake.wav"}, content=fake, timeout=30).json()
    job = _wait_for_job(server, job["id"])
    assert job["state"] == "failed" and job["message"].startswith("fake.wav")
    assert str(library["data"]) not in job["message"]  # the server's storage path is not revealed


@pytest.mark.parametrize("target", [
    "/api/tracks/../../../etc/passwd", "/api/tracks/..%2F..%2F..%2Fetc%2Fpasswd/audio", "/api/tracks/%2e%2e/audio",
    "/api/tracks/1/../../../etc/passwd", "/api/tracks/{id}/stems/..", "/api/tracks/{id}/stems/%2e%2e",
    "/api/tracks/{id}/stems/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/api/tracks/{id}/stems/%2Fetc%2Fpasswd",
    "/api/tracks/{id}/stems/..%5C..%5Cvocals", "/api/tracks/{id}/stems/../../vocals",
    "/api/tracks/{id}/waveform/../../..", "/static/..", "/static/..%2Fapp.py", "/static/%2e%2e%2fapp.py",
    "/static/../app.py", "/static/%2Fetc%2Fpasswd", "/track/..%2F1", "/track/../../etc/passwd",
    "/api/jobs/..", "/api/jobs/..%2F..%2Fetc%2Fpasswd", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
])
def test_path_like_parameters_never_reach_the_file_system(server, library, target):
    target = target.replace("{id}", str(library["ids"]["clip1.wav"]))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", target)  # sent as written: http.client does not resolve ".."
    reply = conn.getresponse()
    content = reply.read()
    conn.close()
    assert reply.status in (400, 404), (target, reply.status)
    assert b"root:" not in content and b"import " not in content and b"RIFF" not in content


@pytest.mark.parametrize("filename", ["../../evil.wav", "/tmp/evil.wav", "..", "..%5Cevil.wav", "a/b.wav", "C:evil.wav"])
def test_upload_names_are_never_paths(server, library, filename):
    before = _uploads(library)
    status, reply = _raw(server.port, (f"POST /api/upload?filename={filename} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}"
                                       f"\r\nContent-Length: 64\r\n\r\n").encode(), [_wav_bytes(np.zeros(SR))[:64]])
    assert status == 400 and b"plain file name" in reply
    assert _uploads(library) == before and not (library["root"] / "evil.wav").exists()


def test_loopback_needs_no_token_but_refuses_other_sites(server, library):
    assert _get(server, "/api/tracks").status_code == 200  # bound to 127.0.0.1 without --token: no token
    rebound = _get(server, "/api/tracks", headers={"Host": "attacker.example:80"})
    assert rebound.status_code == 403  # a DNS-rebinding page reaches 127.0.0.1 under its own name
    before = _uploads(library)
    for origin in ("https://attacker.example", "null", "http://[::1"):  # "null": a sandboxed frame or file://
        cross = httpx.post(server.url + "/api/upload", content=_wav_bytes(np.zeros(SR)), timeout=30,
                           headers={"Origin": origin})
        assert cross.status_code == 403 and _uploads(library) == before, origin
    assert _get(server, "/api/tracks", headers={"Host": "[::1"}).status_code == 403
    same = _get(server, "/api/tracks", headers={"Origin": server.url})
    assert same.status_code == 200


def _read_banner(process: subprocess.Popen, seconds: float = 60.0) -> tuple[int, str]:
    """The port and token that ``songscope serve`` prints when it starts."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        text = "".join(lines)
        port, token = re.search(r"http://[^:]+:(\d+)/", text), re.search(r"token: (\S+)", text)
        if port and token:
            return int(port.group(1)), token.group(1)
        time.sleep(0.05)
    raise AssertionError(f"songscope serve did not start: {''.join(lines)} {process.stderr.read()}")


def test_beyond_loopback_every_request_needs_the_token(tmp_path, library):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "one.wav").write_bytes((library["music"] / "clip2.wav").read_bytes())
    command = [sys.executable, "-m", "songscope.cli", "serve", str(folder), "--host", "0.0.0.0", "--port", "0", "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port, token = _read_banner(process)
        url = f"http://127.0.0.1:{port}"
        for path in ("/", "/api/tracks", "/api/tracks/1/audio", "/static/track.js", "/api/jobs"):
            refused = httpx.get(url + path, timeout=30)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", path
        assert httpx.get(url + "/api/tracks", headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
        assert httpx.post(url + "/api/upload", content=_wav_bytes(np.zeros(SR)), timeout=30).status_code == 401
        assert not (folder / "songscope.serve" / "uploads").exists()
        listed = httpx.get(url + "/api/tracks", headers={"Authorization": f"Bearer {token}",
                                                         "Host": f"music-box.local:{port}"}, timeout=30)
        assert listed.status_code == 200 and [Path(t["path"]).name for t in listed.json()] == ["one.wav"]
        assert (folder / "songscope.db").exists()  # the folder's catalog, created with the folder's audio
        page = httpx.get(url + "/", params={"token": token}, timeout=30)
        assert page.status_code == 200 and page.cookies.get("token") == token
        assert "httponly" in page.headers["set-cookie"].lower()
        audio = httpx.get(url + "/api/tracks/1/audio", cookies={"token": token}, timeout=30)
        assert audio.status_code == 200 and audio.content == (folder / "one.wav").read_bytes()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_serve_command_errors_are_one_line(cli, tmp_path, library):
    (tmp_path / "junk.db").write_text("not sqlite " * 100)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        for args, message in (((tmp_path / "nowhere",), "no such folder or catalog"),
                              ((tmp_path / "junk.db",), "not a songscope catalog"),
                              ((library["db"], "--token", "short"), "--token must be"),
                              ((library["db"], "--port", "70000"), "--port must be"),
                              ((library["db"], "--max-upload", "0"), "--max-upload must be"),
                              ((library["db"], "--port", str(taken.getsockname()[1])), "cannot listen on")):
            result = cli("serve", *args, "-q")
            assert result.code == 2 and result.err.count("\n") == 1 and message in result.err, (args, result.err)
    finally:
        taken.close()


def test_track_page_in_headless_chromium(server, library, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/system-deps.sh installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install "
                                                                   "'songscope[test]')")
    full = library["ids"]["full.wav"]
    analysis = _get(server, f"/api/tracks/{full}/analysis").json()
    count = len(_get(server, "/api/tracks").json())
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/")
            page.wait_for_function(f"document.querySelectorAll('#tracks tbody tr').length === {count}")
            page.set_input_files("#upload-file", str(library["music"] / "clip2.wav"))
            page.click("#upload button[type=submit]")
            done = page.wait_for_selector("#jobs li.done:has-text('clip2.wav')", timeout=60000)  # shown in the page
            assert done.inner_text().startswith("clip2.wav: done")
            page.wait_for_function(f"document.querySelectorAll('#tracks tbody tr').length === {count + 1}")
            page.click("th[data-sort=duration]")
            page.click("th[data-sort=duration]")  # descending: the whole song first
            assert page.get_attribute("th[data-sort=duration]", "aria-sort") == "descending"
            assert page.get_attribute("#tracks tbody tr:first-child", "data-id") == str(full)
            page.screenshot(path=str(tmp_path / "library.png"), full_page=True)
            page.fill("input[name=duration_min]", "20")
            page.wait_for_function("document.querySelectorAll('#tracks tbody tr').length === 1")
            page.click("#tracks tbody tr a")
            page.wait_for_url(f"**/track/{full}")
            page.wait_for_selector("body[data-ready=true]")
            sections = page.locator("#sections .section")
            assert sections.count() == len(analysis["segments"])
            labels = [s["label"] for s in analysis["segments"]]
            assert sections.evaluate_all("els => els.map(e => e.dataset.label)") == labels
            colour = sections.first.evaluate("e => getComputedStyle(e).backgroundColor")
            red, green, blue = (int(LABEL_COLORS[labels[0]][i:i + 2], 16) for i in (1, 3, 5))
            assert colour == f"rgb({red}, {green}, {blue})"
            drawn = page.evaluate("(() => { const c = document.getElementById('wave'); const d = c.getContext('2d')"
                                  ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
                                  " for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n / (d.length / 4); })()")
            assert drawn > 0.05  # the waveform and the beat lines cover part of the canvas
            assert page.locator("#facts").inner_text().count(analysis["key"]) >= 1
            target = max(range(len(labels)), key=lambda i: analysis["segments"][i]["end"] - analysis["segments"][i]["start"])
            start = analysis["segments"][target]["start"]
            assert start > 1.0
            sections.nth(target).click()
            position = page.evaluate("document.getElementById('player').currentTime")
            assert start - 0.01 <= position < start + 1.0
            page.wait_for_function(f"document.getElementById('player').currentTime > {start + 0.3}", timeout=15000)
            assert page.evaluate("document.getElementById('player').paused") is False
            page.check("#clicks")  # WebAudio clicks scheduled from the beats while it plays
            page.wait_for_timeout(500)
            assert page.locator("#stems .empty").inner_text().startswith("No stems")
            page.screenshot(path=str(tmp_path / "track.png"), full_page=True)
            print(f"screenshots: {tmp_path / 'library.png'}, {tmp_path / 'track.png'}")
            page.goto(f"{server.url}/track/{library['ids']['clip1.wav']}")
            page.wait_for_selector("body[data-ready=true]")
            assert page.locator("#stems .stem").evaluate_all("els => els.map(e => e.dataset.stem)") == STEMS
            page.check("#stems-on")
            page.click("#stems .stem[data-stem=vocals] >> text=solo")
            assert page.get_attribute("#stems .stem[data-stem=vocals] >> text=solo", "aria-pressed") == "true"
            assert page.evaluate("document.getElementById('player').muted")  # the mix is the silent clock
            assert not errors, errors
        finally:
            browser.close()
