"""The library catalog: adding (moves, duplicates, changes), runs that skip done work and
recompute what a setting changes, the query language, exports, schema versions, and a real
``kill -9`` in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songscope.errors import ConfigError, InputError
from songscope.library.catalog import SCHEMA_VERSION, Catalog
from songscope.library.jobs import LibraryJob, add_paths, run_job
from songscope.library.query import compile_query

from .conftest import SR


def test_add_recognises_new_moved_duplicate_and_changed_files(tmp_path, distinct_songs):
    with Catalog(tmp_path / "c.db") as catalog:
        outcome, failures = add_paths(catalog, [distinct_songs])
        assert len(outcome["new"]) == 6 and not failures
        (distinct_songs / "song0.wav").rename(distinct_songs / "renamed.wav")
        (distinct_songs / "copy.wav").write_bytes((distinct_songs / "song1.wav").read_bytes())
        sf.write(distinct_songs / "song2.wav", np.zeros(SR * 2), SR)  # the same path, other content
        outcome, _ = add_paths(catalog, [distinct_songs])
        assert [Path(p).name for p in outcome["moved"]] == ["renamed.wav"]
        assert [Path(p).name for p in outcome["duplicate"]] == ["copy.wav"]
        assert [Path(p).name for p in outcome["changed"]] == ["song2.wav"]
        assert len(outcome["same"]) == 4  # known path, size and time: not read again
        status = catalog.status()
        assert (status["tracks"], status["contents"], status["duplicates"], status["missing"]) == (7, 6, 1, 0)


def test_runs_skip_done_work_and_recompute_what_a_setting_changes(tmp_path, distinct_songs):
    with Catalog(tmp_path / "c.db") as catalog:
        add_paths(catalog, [distinct_songs])
        (distinct_songs / "twin.wav").write_bytes((distinct_songs / "song3.wav").read_bytes())
        add_paths(catalog, [distinct_songs])
        done, failures = run_job(catalog, LibraryJob("analyze"), jobs=2)
        assert done == 6 and not failures  # one analysis per content, not per file
        assert run_job(catalog, LibraryJob("analyze"), jobs=2)[0] == 0
        narrower = LibraryJob("analyze", settings={"min_bpm": 60.0, "max_bpm": 180.0})
        assert run_job(catalog, narrower)[0] == 6
        assert run_job(catalog, LibraryJob("key"))[0] == 6
        rows = list(catalog.facts())
        assert len(rows) == 7 and all(r["bpm"] and r["key"] and r["labels"] for r in rows)
        twin = next(r for r in rows if r["path"].endswith("twin.wav"))
        assert twin["bpm"] == next(r for r in rows if r["path"].endswith("song3.wav"))["bpm"]
        (distinct_songs / "song4.wav").rename(tmp_path / "song4.wav")  # moved: keeps its results
        add_paths(catalog, [distinct_songs, tmp_path / "song4.wav"])
        moved = next(r for r in catalog.facts() if r["path"].endswith("song4.wav"))
        assert moved["path"] == str((tmp_path / "song4.wav").resolve()) and moved["bpm"] is not None


def test_query_language_compiles_to_parameters_and_filters(tmp_path, distinct_songs):
    sql, params = compile_query("bpm between 90 and 110 and (key = 'E minor' or key is null) and "
                                "not labels contains 'solo'")
    assert sql == "(bpm BETWEEN ? AND ? AND (key = ? OR key IS NULL) AND NOT (labels LIKE ?))"
    assert params == [90.0, 110.0, "E minor", "%solo%"]
    sql, params = compile_query("artist = \"O'Brien'); DROP TABLE tracks; --\"")
    assert (sql, params) == ("artist = ?", ["O'Brien'); DROP TABLE tracks; --"])  # values stay parameters
    with pytest.raises(ConfigError, match="unexpected"):
        compile_query("path = 'x'' or 1=1 --'")
    for bad, message in (("tempo > 3", "unknown field 'tempo'"), ("bpm >", "expected value"),
                         ("bpm between 1", "expected and"), ("bpm = 1 extra", "unexpected")):
        with pytest.raises(ConfigError, match=message):
            compile_query(bad)
    with Catalog(tmp_path / "c.db") as catalog:
        add_paths(catalog, [distinct_songs])
        run_job(catalog, LibraryJob("analyze"))
        everything = list(catalog.facts())
        wanted = [r["path"] for r in everything if 95 <= r["bpm"] <= 105 and r["key"] == "E minor"]
        assert wanted and [r["path"] for r in catalog.facts(*compile_query(
            "bpm between 95 and 105 and key = 'E minor'"))] == wanted
        assert list(catalog.facts(*compile_query("bpm > 500"))) == []


def test_library_command_interfaces(cli, tmp_path, distinct_songs):
    db = tmp_path / "lib.db"
    assert cli("library", "add", distinct_songs, "--catalog", db, "-q").code == 0
    before = cli("library", "export", "--catalog", db, "--format", "jsonl")
    rows = [json.loads(line) for line in before.out.splitlines()]
    assert len(rows) == 6 and all(set(r) >= {"path", "sha256", "duration", "bpm", "key"} for r in rows)
    assert all(r["bpm"] is None and r["key"] is None and r["duration"] == pytest.approx(8.0) for r in rows)
    assert cli("library", "run", "analyze", "--catalog", db, "-j", "2", "-q").code == 0
    found = cli("library", "query", "--catalog", db, "bpm > 0 and labels contains 'verse'")
    assert found.code == 0 and len(found.out.splitlines()) >= 1
    csv_text = cli("library", "export", "--catalog", db, "--format", "csv").out.splitlines()
    assert csv_text[0].startswith("path,sha256,duration") and len(csv_text) == 7
    status = json.loads(cli("library", "status", "--catalog", db, "--json").out)
    assert status["tracks"] == 6 and status["results"] == [{"task": "analyze", "model": "classic", "count": 6}]
    bad = cli("library", "query", "--catalog", db, "bpm ~ 3")
    assert bad.code == 2 and bad.err.count("\n") == 1
    assert "--output-file" in cli("library", "export", "--catalog", db, "--format", "parquet").err


def test_schema_versions(tmp_path):
    path = tmp_path / "c.db"
    Catalog(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(InputError, match="newer than this songscope reads"):
        Catalog(path)
    (tmp_path / "junk.db").write_text("not sqlite " * 100)
    with pytest.raises(InputError, match="not a songscope catalog"):
        Catalog(tmp_path / "junk.db")


def test_kill_9_in_the_middle_of_a_run_loses_and_duplicates_nothing(tmp_path, distinct_songs):
    db = tmp_path / "c.db"
    with Catalog(db) as catalog:
        add_paths(catalog, [distinct_songs])
    command = [sys.executable, "-m", "songscope.cli", "library", "run", "analyze", "--catalog", str(db), "-j", "1",
               "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    count = 0
    while count < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            count = sqlite3.connect(db, timeout=5).execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.OperationalError:
            count = 0
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    survived = sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert 2 <= survived < 6
    rerun = subprocess.run(command, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    with Catalog(db) as catalog:
        rows = catalog.db.execute("SELECT sha256, COUNT(*) FROM results GROUP BY sha256").fetchall()
        assert len(rows) == 6 and all(n == 1 for _, n in rows)
        assert all(r["bpm"] for r in catalog.facts())


def test_parquet_export_and_tags(tmp_path, distinct_songs, cli):
    pq = pytest.importorskip("pyarrow.parquet")
    mutagen = pytest.importorskip("mutagen")
    flac = tmp_path / "tagged.flac"
    sf.write(flac, sf.read(distinct_songs / "song0.wav")[0], SR)
    tags = mutagen.File(flac, easy=True)
    tags["title"], tags["artist"] = "Song Zero", "The Testers"
    tags.save()
    db = tmp_path / "lib.db"
    assert cli("library", "add", flac, "--catalog", db, "-q").code == 0
    found = cli("library", "query", "--catalog", db, "artist = 'The Testers'", "--format", "jsonl")
    assert json.loads(found.out)["title"] == "Song Zero"
    assert cli("library", "export", "--catalog", db, "--format", "parquet", "--output-file", tmp_path / "t.parquet",
               ).code == 0
    table = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert table[0]["artist"] == "The Testers" and table[0]["bpm"] is None
