"""Section labels from Harmonix Set priors: the shipped tables, the decoder, the building script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from songscope.errors import InputError
from songscope.structure.labelling import decode_labels
from songscope.structure.priors import MUSICAL_LABELS, PRIORS_PATH, LabelPriors, load_priors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from harmonix_priors import musical_sections, priors  # noqa: E402


def _decode(groups, bars, loudness=None, seconds_per_bar=2.0):
    ends = np.cumsum(np.asarray(bars, dtype=float) * seconds_per_bar)
    starts = np.r_[0.0, ends[:-1]]
    loud = np.zeros(len(groups)) if loudness is None else np.asarray(loudness, dtype=float)
    return decode_labels(np.asarray(groups), starts, ends, loud)


def _run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "harmonix_priors.py"), *args],
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")})


def test_shipped_priors_load_are_normalised_and_come_from_harmonix():
    table = json.loads(PRIORS_PATH.read_text(encoding="utf-8"))
    assert "harmonixset" in table["source"] and "MIT" in table["source"]
    assert table["files"] >= 150 and table["songs"] >= 150
    assert table["labels"] == list(MUSICAL_LABELS)
    for key in ("start", "end", "transition", "position", "occurrences"):
        np.testing.assert_allclose(np.sum(table[key], axis=-1), 1.0, atol=1e-3)
    p = load_priors()
    # what annotated pop songs say: they open with an intro, verses lead to choruses, choruses recur
    assert MUSICAL_LABELS[int(np.argmax(p.start))] == "intro"
    verse, chorus = MUSICAL_LABELS.index("verse"), MUSICAL_LABELS.index("chorus")
    assert int(np.argmax(p.transition[verse])) == chorus
    assert p.recurs[chorus] > 0.9 > 0.5 > p.recurs[MUSICAL_LABELS.index("bridge")]


def test_priors_reject_a_table_that_is_not_a_distribution():
    table = json.loads(PRIORS_PATH.read_text(encoding="utf-8"))
    table["start"] = [0.5] * len(MUSICAL_LABELS)
    with pytest.raises(InputError, match="start"):
        LabelPriors.from_dict(table)


def test_verse_chorus_form_is_named_from_repetition_without_loudness():
    """V C V C bridge C with every section equally loud: the group heard three times after the
    first group is the chorus, the part heard once late is the bridge."""
    assert _decode([1, 2, 1, 2, 3, 2], [8, 8, 8, 8, 4, 8]) == [
        "verse", "chorus", "verse", "chorus", "bridge", "chorus"]
    assert _decode([0, 1, 2, 1, 2, 3, 2, 4], [4, 8, 8, 8, 8, 4, 8, 4]) == [
        "intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"]


def test_labels_do_not_follow_loudness_when_repetition_disagrees():
    """Choruses 6 dB quieter than the verses (the opposite of the usual mix) keep their label."""
    loud = [-3, 0, -6, 0, -6, -3, -6, -3]
    assert _decode([0, 1, 2, 1, 2, 3, 2, 4], [4, 8, 8, 8, 8, 4, 8, 4], loud)[1:7] == [
        "verse", "chorus", "verse", "chorus", "bridge", "chorus"]


def test_an_intro_that_returns_as_outro_is_not_a_chorus():
    labels = _decode([0, 1, 2, 1, 2, 3, 2, 2, 0], [4, 8, 8, 8, 8, 8, 8, 8, 4])
    assert labels[0] == "intro" and labels[-1] == "outro"
    assert labels[2] == labels[4] == labels[6] == labels[7] == "chorus"


def test_one_segment_is_a_verse():
    assert _decode([0], [8]) == ["verse"]


def test_building_priors_from_annotation_files(tmp_path):
    """Three small annotation files in Harmonix's format: raw names are merged as allin1 merges
    them, silences dropped, and every table is a distribution."""
    rows = {"0001_a.txt": "0.0 silence\n1.0 intro\n9.0 verse\n25.0 prechorus\n33.0 chorus\n49.0 verse\n"
                          "65.0 chorus\n81.0 outro\n90.0 end\n",
            "0002_b.txt": "0.0 intro\n8.0 verse\n24.0 chorus\n40.0 verse\n56.0 chorus\n72.0 bridge\n"
                          "80.0 chorus\n96.0 end\n",
            "0003_c.txt": "0.5 verse\n20.0 chorus\n40.0 instrumental\n50.0 chorus\n70.0 end\n"}
    for name, text in rows.items():
        (tmp_path / name).write_text(text)
    first = musical_sections(tmp_path / "0001_a.txt")
    assert [lab for *_, lab in first] == ["intro", "verse", "verse", "chorus", "verse", "chorus", "outro"]
    assert first[0][:2] == (1.0, 9.0)
    table = priors([musical_sections(tmp_path / n) for n in rows])
    assert table["sections"] == 7 + 7 + 4
    parsed = LabelPriors.from_dict(table)
    assert MUSICAL_LABELS[int(np.argmax(parsed.start))] == "intro"
    out = tmp_path / "priors.json"
    done = _run_script(str(tmp_path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["files"] == 3


def test_building_priors_from_an_empty_folder_fails_cleanly(tmp_path):
    done = _run_script(str(tmp_path))
    assert done.returncode != 0
    assert done.stderr.strip().startswith("error:") and "Traceback" not in done.stderr
