"""Build a real annotated beat corpus from Debian's Frets on Fire song packs, outside the repository.

    python benchmarks/real_music_data.py OUT_DIR [--packages fretsonfire-songs-muldjord,fretsonfire-songs-sectoid]
                                         [--correct-offsets]

The packages are fetched with ``apt-get download`` and unpacked with ``dpkg -x`` into a temporary
folder (nothing else is downloaded). For every song folder (``song.ini``, ``notes.mid`` and the
stems ``song.ogg``, ``guitar.ogg``, maybe ``rhythm.ogg``):

- ``OUT_DIR/<pack>_<song>.flac``: the stems summed sample by sample (shorter ones padded with
  silence), scaled down only if the sum would clip; 16-bit FLAC at the stems' rate.
- ``OUT_DIR/<pack>_<song>.beats``: ``time<TAB>position`` (1 = downbeat) from the chart's MIDI
  tempo map and time signatures (one beat per denominator note; 4/4 when the file has none),
  bars counted from tick 0, shifted by ``song.ini``'s ``delay`` (ms) with Frets on Fire's sign
  (chart time = audio time - delay), kept between the first and the last onset that
  ``librosa.onset.onset_detect`` finds with its defaults in the 22.05 kHz mono mix (50 ms margin).
- ``OUT_DIR/manifest.json``: per song the duration, tempo, meter, the alignment check, the
  bar-phase evidence, the comparison with ``../shared/data/fullsongs`` when that folder
  annotates the song, and ``usable`` with the reasons.

Alignment check: a spectral-flux onset envelope of the mix (librosa mel flux, 1024-point
frames, 2.5 ms hop, 3-band maximum filter, z-scored); the lag is the shift of the annotated
beats, within a quarter beat, that maximises the envelope's mean at the beats (positive: the
onsets come after the beats), over the whole song and per 30 s window; drift is the slope of
the window lags (Theil-Sen). A song is usable when its global lag is within 20 ms, every window's within
35 ms (half the 70 ms evaluation window), the drift below 5 ms per minute and the envelope
at the beats clearly above its mean (beat evidence >= 0.5 standard deviations).

With ``--correct-offsets``, a song that fails on its global lag alone (at most 60 ms; every
window's lag within 10 ms of the others, no drift, strong beat evidence: the chart is off by a
constant offset, as the Sectoid charts are by 28-46 ms) has its beats shifted by the measured lag
and checked again (``offset_corrected_ms`` in the manifest).

Bar phase (the chart's bar lines are not always the music's): per chart bar position, the
harmonic novelty at the beat (CQT chroma of the two beats before against the two after) and
the bass onset strength within 25 ms of it (mel flux below 150 Hz). Downbeats are ``supported`` when both put
position 1 first by a 10 % margin, ``contradicted`` when both put the same other position
first, else ``ambiguous``; only supported downbeats are scored by ``beats_real.py``.

Prints the manifest as one JSON object.
"""

from __future__ import annotations

import argparse
import configparser
import json
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.stats import theilslopes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from songscope.atomic import atomic_path, write_text  # noqa: E402
from songscope.audio import info, load  # noqa: E402
from songscope.errors import InputError  # noqa: E402

PACKAGES = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
SONGS_DIR = Path("usr/share/games/fretsonfire/data/songs")
STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg")
FULLSONGS = SHARED / "data" / "fullsongs"

HOP_S = 0.0025            # onset envelope hop (s)
SPAN_MARGIN_S = 0.05      # beats kept within this margin of the first and last onset (s)
WINDOW_S = 30.0           # alignment window (s)
MAX_LAG_MS = 20.0         # usable: |global lag| at most this
MAX_WINDOW_LAG_MS = 35.0  # usable: every window's |lag| at most this
MAX_DRIFT_MS_PER_MIN = 5.0
MIN_EVIDENCE = 0.5        # usable: envelope mean at the beats, in standard deviations
PHASE_MARGIN = 1.1        # bar-phase evidence: first position / second position
MAX_OFFSET_MS = 60.0      # --correct-offsets: largest constant offset corrected
MAX_OFFSET_SPREAD_MS = 10.0  # --correct-offsets: window lags within this of each other


@dataclass
class Chart:
    """A chart's timing: ``division`` ticks per quarter note; ``tempos`` (tick, microseconds per
    quarter) and ``meters`` (tick, numerator, denominator) sorted by tick; ``end`` the last
    event's tick."""

    division: int
    tempos: list[tuple[int, int]]
    meters: list[tuple[int, int, int]]
    end: int


def _varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


def read_chart(path: Path) -> Chart:
    """Tempo map, time signatures and length of a standard MIDI file (format 0 or 1, PPQ
    division); raises InputError for anything else."""
    data = path.read_bytes()
    if data[:4] != b"MThd" or len(data) < 14:
        raise InputError(f"{path}: not a MIDI file")
    header = int.from_bytes(data[4:8], "big")
    n_tracks, division = int.from_bytes(data[10:12], "big"), int.from_bytes(data[12:14], "big")
    if division & 0x8000:
        raise InputError(f"{path}: SMPTE time division is not supported")
    tempos, meters, end, pos = [], [], 0, 8 + header
    for _ in range(n_tracks):
        if data[pos:pos + 4] != b"MTrk":
            raise InputError(f"{path}: damaged track header at byte {pos}")
        stop = pos + 8 + int.from_bytes(data[pos + 4:pos + 8], "big")
        pos, tick, status = pos + 8, 0, 0
        while pos < stop:
            delta, pos = _varlen(data, pos)
            tick += delta
            if data[pos] == 0xFF:
                kind = data[pos + 1]
                length, pos = _varlen(data, pos + 2)
                body = data[pos:pos + length]
                if kind == 0x51:
                    tempos.append((tick, int.from_bytes(body, "big")))
                elif kind == 0x58:
                    meters.append((tick, body[0], 2 ** body[1]))
                pos += length
            elif data[pos] in (0xF0, 0xF7):
                length, pos = _varlen(data, pos + 1)
                pos += length
            else:
                if data[pos] & 0x80:
                    status, pos = data[pos], pos + 1
                pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        end, pos = max(end, tick), stop
    tempos, meters = sorted(tempos), sorted(meters)
    if not tempos or tempos[0][0] > 0:
        tempos.insert(0, (0, 500000))  # the MIDI default, 120 BPM
    if not meters or meters[0][0] > 0:
        meters.insert(0, (0, 4, 4))
    return Chart(division, tempos, meters, end)


def tick_seconds(chart: Chart, ticks: np.ndarray) -> np.ndarray:
    """Seconds (same shape as ``ticks``) of MIDI ticks under the chart's tempo map."""
    starts = np.array([t for t, _ in chart.tempos], dtype=float)
    per_tick = np.array([us for _, us in chart.tempos], dtype=float) / 1e6 / chart.division
    offsets = np.concatenate([[0.0], np.cumsum(np.diff(starts) * per_tick[:-1])])
    k = np.searchsorted(starts, ticks, side="right") - 1
    k = np.clip(k, 0, len(starts) - 1)
    return offsets[k] + (np.asarray(ticks, dtype=float) - starts[k]) * per_tick[k]


def beat_grid(chart: Chart) -> tuple[np.ndarray, np.ndarray]:
    """Chart beats up to its last event: ticks (N,) and bar positions (N,), 1 = downbeat.
    A time signature change starts a new bar at its tick."""
    ticks, positions, tick = [], [], 0
    changes = [t for t, _, _ in chart.meters[1:]] + [None]
    for (start, num, den), stop in zip(chart.meters, changes):
        step, tick, position = chart.division * 4 // den, start, 1
        while tick <= chart.end and (stop is None or tick < stop):
            ticks.append(tick)
            positions.append(position)
            tick, position = tick + step, position % num + 1
    return np.array(ticks), np.array(positions)


def song_delay(folder: Path) -> float:
    """``song.ini``'s ``delay`` in seconds (0 when absent)."""
    ini = configparser.ConfigParser(interpolation=None, strict=False)
    ini.read(folder / "song.ini", encoding="latin-1")
    return float(ini.get("song", "delay", fallback="0") or 0) / 1000.0


def mix_stems(folder: Path) -> tuple[np.ndarray, int]:
    """Sum of the folder's stems, (N, channels) float32 at the first stem's rate; stems of
    other rates are resampled, shorter ones padded with silence."""
    paths = [folder / name for name in STEMS if (folder / name).exists()]
    if not paths:
        raise InputError(f"{folder}: no stems ({', '.join(STEMS)})")
    rate = info(paths[0]).sample_rate
    stems = [load(path, rate)[0] for path in paths]
    channels = max(s.shape[0] for s in stems)
    mix = np.zeros((channels, max(s.shape[1] for s in stems)), np.float32)
    for stem in stems:
        mix[:, :stem.shape[1]] += stem if stem.shape[0] == channels else stem.mean(0)
    return mix.T, rate


def onset_envelope(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Spectral-flux onset envelope (T,) of ``mono`` (N,), z-scored, and its frame rate
    (frames per second): 1024-point frames, 2.5 ms hop, 3-band maximum filter."""
    import librosa

    hop = int(round(HOP_S * sample_rate))
    env = librosa.onset.onset_strength(y=mono, sr=sample_rate, n_fft=1024, hop_length=hop, max_size=3)
    return (env - env.mean()) / (env.std() + 1e-12), sample_rate / hop


def music_span(mono22: np.ndarray, name: object) -> tuple[float, float]:
    """Times (s) of the first and last onset ``librosa.onset.onset_detect`` finds with its
    defaults in ``mono22`` (N,) at 22.05 kHz; ``name`` goes into the error when there is none."""
    import librosa

    onsets = librosa.onset.onset_detect(y=mono22, sr=22050, units="time")
    if len(onsets) == 0:
        raise InputError(f"{name}: no onset in the mix")
    return float(onsets[0]), float(onsets[-1])


def lag_scan(env: np.ndarray, fps: float, times: np.ndarray, max_lag: float) -> tuple[float, float]:
    """Shift (s, within +-``max_lag``, 0.5 ms steps) of ``times`` that maximises the mean of
    ``env`` at the shifted times, and that mean (beat evidence, in standard deviations)."""
    lags = np.arange(-max_lag, max_lag + 1e-9, 0.0005)
    frames = np.arange(len(env)) / fps
    scores = np.array([np.interp(times + lag, frames, env).mean() for lag in lags])
    return float(lags[scores.argmax()]), float(scores.max())


def check_alignment(env: np.ndarray, fps: float, beats: np.ndarray) -> dict:
    """Global and per-window lag of ``beats`` (s) against the onset envelope, drift, and
    whether they pass the usability limits (the reasons when not)."""
    max_lag = min(0.1, float(np.median(np.diff(beats))) / 4)
    lag, evidence = lag_scan(env, fps, beats, max_lag)
    windows = []
    for start in np.arange(beats[0], beats[-1], WINDOW_S):
        inside = beats[(beats >= start) & (beats < start + WINDOW_S)]
        if len(inside) and inside[-1] - inside[0] >= WINDOW_S / 3:
            windows.append((float(inside.mean()), lag_scan(env, fps, inside, max_lag)[0]))
    centres, lags = np.array(windows).T * 1000 if windows else (np.zeros(0), np.zeros(0))
    drift = float(theilslopes(lags, centres / 60000)[0]) if len(lags) > 2 else 0.0
    reasons = []
    if abs(lag) * 1000 > MAX_LAG_MS:
        reasons.append(f"onsets lag the beats by {lag * 1000:+.1f} ms (limit {MAX_LAG_MS:.0f})")
    if len(lags) and np.abs(lags).max() > MAX_WINDOW_LAG_MS:
        reasons.append(f"a {WINDOW_S:.0f} s window lags by {lags[np.abs(lags).argmax()]:+.1f} ms "
                       f"(limit {MAX_WINDOW_LAG_MS:.0f})")
    if abs(drift) > MAX_DRIFT_MS_PER_MIN:
        reasons.append(f"drift {drift:+.1f} ms/min (limit {MAX_DRIFT_MS_PER_MIN:.0f})")
    if evidence < MIN_EVIDENCE:
        reasons.append(f"weak beat evidence {evidence:.2f} (limit {MIN_EVIDENCE})")
    return {"lag_ms": round(lag * 1000, 1), "beat_evidence": round(evidence, 2),
            "window_lags_ms": [round(float(x), 1) for x in lags],
            "window_spread_ms": round(float(np.ptp(lags)), 1) if len(lags) else None,
            "drift_ms_per_min": round(drift, 2), "passed": not reasons, "reasons": reasons}


def bar_phase(mono22: np.ndarray, beats: np.ndarray, positions: np.ndarray) -> dict:
    """Evidence for the chart's bar lines in ``mono22`` (N,) at 22.05 kHz: per bar position,
    the mean harmonic novelty at the beat and the mean bass onset strength there; the
    verdict on the downbeats."""
    import librosa

    per_bar = int(positions.max())
    if len(beats) < 8 * per_bar:
        return {"downbeats": "ambiguous", "note": "too few bars"}
    hop = 512
    chroma = librosa.feature.chroma_cqt(y=mono22, sr=22050, hop_length=hop)
    edges = np.minimum(librosa.time_to_frames(beats, sr=22050, hop_length=hop), chroma.shape[1] - 1)
    cumulative = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    beat_sums = cumulative[:, edges[1:]] - cumulative[:, edges[:-1]]  # chroma of [beat k, beat k+1)
    novelty = np.full(len(beats), np.nan)
    for k in range(2, beat_sums.shape[1] - 1):
        before, after = beat_sums[:, k - 2:k].sum(1), beat_sums[:, k:k + 2].sum(1)
        novelty[k] = 1 - before @ after / (np.linalg.norm(before) * np.linalg.norm(after) + 1e-12)
    bass = librosa.onset.onset_strength(y=mono22, sr=22050, hop_length=256, fmax=150, n_mels=16)
    frames = np.round(beats * 22050 / 256).astype(int)
    low = np.array([bass[max(0, f - 2):f + 3].max() if f < len(bass) else np.nan for f in frames])
    evidence = {"harmonic_novelty": [float(np.nanmean(novelty[positions == p])) for p in range(1, per_bar + 1)],
                "bass_onsets": [float(np.nanmean(low[positions == p])) for p in range(1, per_bar + 1)]}
    firsts = []
    for values in evidence.values():
        order = np.argsort(values)[::-1]
        firsts.append(int(order[0]) + 1 if values[order[0]] >= PHASE_MARGIN * values[order[1]] else None)
    verdict = ("supported" if firsts == [1, 1] else
               f"contradicted: both put position {firsts[0]} first" if firsts[0] == firsts[1] and firsts[0] else
               "ambiguous")
    return {"downbeats": verdict, **{k: [round(x, 3) for x in v] for k, v in evidence.items()}}


def compare_reference(times: np.ndarray, positions: np.ndarray, reference: Path) -> dict:
    """Generated beats against a reference ``.beats`` file: time differences of the beats
    both have (matched within 35 ms), beats only one side has, and the bar-position shift
    (generated minus reference, modulo the bar) of the matched beats."""
    table = np.loadtxt(reference, comments="#", ndmin=2)
    ref_times, ref_pos = table[:, 0], table[:, 1].astype(int)
    nearest = np.abs(times[:, None] - ref_times[None, :]).argmin(axis=1)
    error = times - ref_times[nearest]
    matched = np.abs(error) <= 0.035
    per_bar = int(max(positions.max(), ref_pos.max()))
    shifts = (positions[matched] - ref_pos[nearest[matched]]) % per_bar
    values, counts = np.unique(shifts, return_counts=True)
    return {"reference": str(reference), "matched": int(matched.sum()),
            "only_generated": int((~matched).sum()), "only_reference": int(len(ref_times) - len(set(nearest[matched]))),
            "generated_span": [round(float(times[0]), 3), round(float(times[-1]), 3)],
            "reference_span": [round(float(ref_times[0]), 3), round(float(ref_times[-1]), 3)],
            "median_abs_diff_ms": round(float(np.median(np.abs(error[matched]))) * 1000, 3),
            "max_abs_diff_ms": round(float(np.abs(error[matched]).max()) * 1000, 3),
            "mean_diff_ms": round(float(error[matched].mean()) * 1000, 3),
            "position_shift": {int(v): int(c) for v, c in zip(values, counts)}}


def track_slug(pack: str, song: str) -> str:
    """``<pack>_<song>`` in lower case, runs of other characters as one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", f"{pack}_{song}".lower()).strip("_")


def offset_only(alignment: dict) -> bool:
    """Whether a failed alignment (:func:`check_alignment`) fails on a constant offset alone:
    the global lag too large (at most :data:`MAX_OFFSET_MS`), but every window within
    :data:`MAX_OFFSET_SPREAD_MS` of the others, no drift and strong beat evidence."""
    spread = alignment["window_spread_ms"]
    return (not alignment["passed"] and MAX_LAG_MS < abs(alignment["lag_ms"]) <= MAX_OFFSET_MS
            and spread is not None and spread <= MAX_OFFSET_SPREAD_MS
            and abs(alignment["drift_ms_per_min"]) <= MAX_DRIFT_MS_PER_MIN and alignment["beat_evidence"] >= MIN_EVIDENCE)


def build_song(folder: Path, out_dir: Path, correct_offsets: bool = False) -> dict:
    """Write ``<slug>.flac`` and ``<slug>.beats`` for one song folder; its manifest entry.
    With ``correct_offsets``, a chart that is off by a constant offset only (:func:`offset_only`)
    is shifted by the measured lag and checked again."""
    name = track_slug(folder.parent.name, folder.name)
    mix, rate = mix_stems(folder)
    peak = float(np.abs(mix).max())
    gain = min(1.0, 0.99 / peak) if peak > 0 else 1.0
    with atomic_path(out_dir / f"{name}.flac") as tmp:
        sf.write(tmp, mix * gain, rate, subtype="PCM_16")
    mono = mix.mean(axis=1)
    mono22 = soxr.resample(mono, rate, 22050)
    duration = len(mono) / rate
    chart = read_chart(folder / "notes.mid")
    ticks, positions = beat_grid(chart)
    delay = song_delay(folder)
    times = tick_seconds(chart, ticks) + delay
    first, last = music_span(mono22, folder)
    keep = (times >= first - SPAN_MARGIN_S) & (times <= min(last + SPAN_MARGIN_S, duration))
    times, positions = times[keep], positions[keep]
    if len(times) < 16:
        raise InputError(f"{folder}: only {len(times)} chart beats inside the music")
    envelope = onset_envelope(mono, rate)
    alignment, shift = check_alignment(*envelope, times), 0.0
    if correct_offsets and offset_only(alignment):
        shift = alignment["lag_ms"] / 1000.0
        times = times + shift
        alignment = check_alignment(*envelope, times)
    write_text(out_dir / f"{name}.beats", "".join(f"{t:.4f}\t{p}\n" for t, p in zip(times, positions)))
    phase = bar_phase(mono22, times, positions)
    entry = {"track": name, "package_folder": f"{folder.parent.name}/{folder.name}",
             "stems": [s for s in STEMS if (folder / s).exists()], "sample_rate": rate,
             "duration": round(duration, 3), "gain": round(gain, 4), "delay_ms": round(delay * 1000, 1),
             "tempo_bpm": sorted({round(60e6 / us, 3) for _, us in chart.tempos}),
             "meter": sorted({f"{n}/{d}" for _, n, d in chart.meters}),
             "beats": int(len(times)), "span": [round(float(times[0]), 3), round(float(times[-1]), 3)],
             "music_onsets": [round(first, 3), round(last, 3)], "offset_corrected_ms": round(shift * 1000, 1),
             "alignment": alignment, "bar_phase": phase,
             "usable": alignment["passed"],
             "downbeats_usable": alignment["passed"] and phase["downbeats"] == "supported",
             "reasons": alignment["reasons"]}
    reference = FULLSONGS / f"{name}.beats"
    if reference.exists():
        entry["shared_reference"] = compare_reference(times, positions, reference)
    return entry


def fetch_packages(packages: list[str], folder: Path) -> Path:
    """``apt-get download`` each package into ``folder`` and unpack it there with ``dpkg -x``;
    the root the packages' files are under."""
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise InputError(f"{tool} not found: this script needs a Debian/Ubuntu system")
    proc = subprocess.run(["apt-get", "download", *packages], cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InputError(f"apt-get download failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    root = folder / "root"
    for deb in sorted(folder.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where the audio, .beats and manifest.json go (not the repository)")
    parser.add_argument("--packages", default=",".join(PACKAGES), help="comma-separated Debian song packages")
    parser.add_argument("--correct-offsets", action="store_true",
                        help="shift charts that are off by a constant offset only (steady window lags, no drift) "
                             "by the measured lag")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    out_dir = args.out_dir.resolve()
    if out_dir == repo or repo in out_dir.parents:
        raise SystemExit(f"error: {out_dir} is inside the repository; third-party songs stay outside it")
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="fof-songs-") as tmp:
        try:
            root = fetch_packages(args.packages.split(","), Path(tmp))
        except InputError as exc:
            raise SystemExit(f"error: {exc}") from None
        songs = []
        for folder in sorted(p.parent for p in (root / SONGS_DIR).glob("*/*/notes.mid")):
            try:
                songs.append(build_song(folder, out_dir, args.correct_offsets))
            except InputError as exc:  # a damaged song is reported, not fatal
                songs.append({"track": track_slug(folder.parent.name, folder.name), "usable": False,
                              "downbeats_usable": False, "reasons": [str(exc)]})
    manifest = {"benchmark": "real-music-data", "packages": args.packages.split(","),
                "correct_offsets": args.correct_offsets,
                "limits": {"lag_ms": MAX_LAG_MS, "window_lag_ms": MAX_WINDOW_LAG_MS,
                           "drift_ms_per_min": MAX_DRIFT_MS_PER_MIN, "beat_evidence": MIN_EVIDENCE,
                           "window_s": WINDOW_S},
                "songs": len(songs), "usable": sum(s["usable"] for s in songs),
                "tracks": {s.pop("track"): s for s in songs}}
    write_text(out_dir / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
