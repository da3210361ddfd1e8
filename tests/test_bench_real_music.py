"""benchmarks/real_music_data.py without the network: the MIDI tempo map and bar grid, the
alignment check and the comparison with a reference beat list."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import real_music_data as rmd  # noqa: E402


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.insert(0, (value & 0x7F) | 0x80)
    return bytes(out)


def _track(events: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(_varlen(delta) + data for delta, data in events) + b"\x00\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def _midi(tmp_path: Path) -> Path:
    """Format 1, 480 ticks per quarter: 120 BPM in 3/4 for one bar, then 60 BPM in 4/4
    (tempo at tick 1440, meter at 1440); notes with running status in a second track."""
    tempo = [(0, b"\xff\x51\x03" + (500000).to_bytes(3, "big")), (0, b"\xff\x58\x04\x03\x02\x18\x08"),
             (1440, b"\xff\x51\x03" + (1000000).to_bytes(3, "big")), (0, b"\xff\x58\x04\x04\x02\x18\x08"),
             (3840, b"\xff\x01\x03end")]
    notes = [(0, b"\x90\x3c\x64"), (480, b"\x3c\x00"), (0, b"\xf0\x02\x7e\xf7"), (480, b"\x90\x3e\x64"),
             (10, b"\x3e\x00")]
    path = tmp_path / "notes.mid"
    path.write_bytes(b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + (2).to_bytes(2, "big")
                     + (480).to_bytes(2, "big") + _track(tempo) + _track(notes))
    return path


def test_chart_tempo_map_and_bar_grid(tmp_path):
    chart = rmd.read_chart(_midi(tmp_path))
    assert chart.division == 480 and chart.end == 1440 + 3840
    assert chart.tempos == [(0, 500000), (1440, 1000000)] and chart.meters == [(0, 3, 4), (1440, 4, 4)]
    ticks, positions = rmd.beat_grid(chart)
    assert positions.tolist() == [1, 2, 3, 1, 2, 3, 4, 1, 2, 3, 4, 1]
    times = rmd.tick_seconds(chart, ticks)
    np.testing.assert_allclose(times, [0, 0.5, 1.0] + [1.5 + k for k in range(9)])


def test_chart_defaults_and_errors(tmp_path):
    path = tmp_path / "bare.mid"
    path.write_bytes(b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96]) + _track([(384, b"\x90\x3c\x64")]))
    chart = rmd.read_chart(path)
    assert chart.tempos == [(0, 500000)] and chart.meters == [(0, 4, 4)]
    assert rmd.beat_grid(chart)[1].tolist() == [1, 2, 3, 4, 1]
    (tmp_path / "not.mid").write_bytes(b"RIFF....")
    with pytest.raises(rmd.InputError, match="not a MIDI file"):
        rmd.read_chart(tmp_path / "not.mid")


def test_alignment_measures_lag_and_flags_offsets():
    fps, period = 400.0, 0.4
    beats = np.arange(1.0, 119.0, period)
    env = np.zeros(int(120 * fps))
    env[np.round((beats + 0.012) * fps).astype(int)] = 1.0  # onsets 12 ms after the beats
    env = np.convolve(env, np.hanning(9), mode="same")
    env = (env - env.mean()) / env.std()
    good = rmd.check_alignment(env, fps, beats)
    assert good["passed"] and abs(good["lag_ms"] - 12) <= 0.5 and good["window_spread_ms"] <= 0.5
    late = rmd.check_alignment(env, fps, beats - 0.03)
    assert not late["passed"] and late["reasons"][0].startswith("onsets lag the beats by +42.5 ms")
    assert rmd.offset_only(late) and not rmd.offset_only(good)  # a constant offset: correctable
    drifting = beats - 0.03 - 0.0002 * (beats - beats[0])  # and 12 ms more per minute
    assert not rmd.offset_only(rmd.check_alignment(env, fps, drifting))


def test_reference_comparison_reports_bar_shift(tmp_path):
    times = np.arange(0, 20, 0.5)
    positions = np.arange(len(times)) % 4 + 1
    ref = tmp_path / "ref.beats"
    ref.write_text("".join(f"{t + 0.001:.4f}\t{(p % 4) + 1}\n" for t, p in zip(times[2:], positions[2:])))
    out = rmd.compare_reference(times, positions, ref)
    assert out["matched"] == len(times) - 2 and out["only_generated"] == 2 and out["only_reference"] == 0
    assert out["position_shift"] == {3: len(times) - 2} and abs(out["median_abs_diff_ms"] - 1.0) < 0.01
