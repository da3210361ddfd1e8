"""Result serialisation: allin1 JSON round trip, JAMS validity, Audacity labels, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from songscope import AnalysisResult, Segment, load_result
from songscope.atomic import atomic_path
from songscope.errors import InputError, OutputError
from songscope.result import ALLIN1_FIELDS, result_to_jams, save_audacity_labels, save_jams, save_result


def _result() -> AnalysisResult:
    return AnalysisResult(
        path="/music/Ünïcode song.flac", bpm=120, beats=[0.5, 1.0, 1.5, 2.0, 2.5],
        downbeats=[0.5, 2.5], beat_positions=[1, 2, 3, 4, 1],
        segments=[Segment(0.0, 0.5, "start"), Segment(0.5, 2.5, "verse"), Segment(2.5, 3.0, "end")],
        key="F# minor", key_signature="A major/F# minor", key_confidence=0.8123,
        time_signature="4/4", duration=3.0,
    )


def test_json_round_trip(tmp_path):
    result = _result()
    path = save_result(result, tmp_path / "r.json")
    loaded = load_result(path)
    assert loaded == result
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data)[:6] == list(ALLIN1_FIELDS)
    assert data["segments"][1] == {"start": 0.5, "end": 2.5, "label": "verse"}


def test_allin1_json_without_extras_loads(tmp_path):
    allin1 = {"path": "a.wav", "bpm": 97, "beats": [0.1, 0.72], "downbeats": [0.1], "beat_positions": [1, 2],
              "segments": [{"start": 0.0, "end": 0.1, "label": "start"}, {"start": 0.1, "end": 9.0, "label": "intro"}]}
    (tmp_path / "a.json").write_text(json.dumps(allin1))
    loaded = load_result(tmp_path / "a.json")
    assert loaded.bpm == 97 and loaded.key is None and loaded.segments[1].label == "intro"


def test_bad_result_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_result(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not a JSON"):
        load_result(tmp_path / "bad.json")
    (tmp_path / "partial.json").write_text(json.dumps({"path": "x", "bpm": 1}))
    with pytest.raises(InputError, match="missing beats"):
        load_result(tmp_path / "partial.json")


def test_jams_export_validates(tmp_path):
    jams = pytest.importorskip("jams")
    path = save_jams(_result(), tmp_path / "r.jams")
    doc = jams.load(str(path), validate=True)
    beats = doc.search(namespace="beat")[0]
    assert [o.value for o in beats.data] == [1, 2, 3, 4, 1]
    keys = doc.search(namespace="key_mode")[0]
    assert keys.data[0].value == "F#:minor"
    assert [o.value for o in doc.search(namespace="segment_open")[0].data] == ["start", "verse", "end"]
    assert result_to_jams(_result())["file_metadata"]["duration"] == 3.0


def test_audacity_labels(tmp_path):
    text = save_audacity_labels(_result(), tmp_path / "r.txt").read_text()
    lines = text.splitlines()
    assert lines[1] == "0.500000\t2.500000\tverse"
    assert lines[3] == "0.500000\t0.500000\t1.1"
    assert lines[-1] == "2.500000\t2.500000\t2.1"


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        save_result(_result(), blocker / "sub" / "r.json")


def test_result_ignores_arrays_in_equality():
    a, b = _result(), _result()
    a.activations = {"beat": np.zeros(3)}
    assert a == b
