"""Write a synthetic multitrack corpus with exact ground truth.

Layout (MUSDB-style, so separation training reads it directly)::

    OUT/manifest.csv                      one row per track (work, version, split, key, tempo, ...)
    OUT/train/<track>/mixture.wav         16-bit stereo; mixture == bass + drums + other + vocals exactly
    OUT/train/<track>/{bass,drums,other,vocals}.wav
    OUT/test/<track>/...                  all versions of a work share a split (no leakage)
    OUT/annotations/<track>.json          songscope result JSON (beats, downbeats, sections, key)
    OUT/annotations/<track>.jams          the same as JAMS
    OUT/mixtures/<track>.wav              link to the mixture, named by track, for analyze/evaluate

A track is ``<work_id>_v<k>``; version 0 is the original, the others are covers.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import json
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import write_text
from ..audio.save import save_audio
from ..errors import InputError
from ..result import AnalysisResult, Segment, save_jams, save_result
from .render import STEMS, render_song
from .song import Song
from .soundfont import find_soundfont, render_song_soundfont
from .works import Version, arrange, compose_work, make_versions

__all__ = ["ENGINES", "song_truth", "write_dataset"]

ENGINES = ("soundfont", "numpy")
MANIFEST_FIELDS = ("track", "work_id", "version_id", "split", "key", "key_signature", "tempo", "time_signature",
                   "duration", "transpose", "tempo_factor", "drum_style", "form", "mixture", "annotation", "soundfont")


def song_truth(song: Song, path: str, duration: float | None = None) -> AnalysisResult:
    """The exact ground truth of ``song`` as a songscope result (``engine="ground-truth"``)."""
    beats, positions = song.beats()
    return AnalysisResult(
        path=path, bpm=int(round(song.tempo)), beats=beats.tolist(), downbeats=beats[positions == 1].tolist(),
        beat_positions=positions.tolist(), segments=[Segment(a, b, label) for a, b, label in song.sections()],
        key=song.key, key_signature=song.key_signature, key_confidence=1.0, time_signature=song.time_signature,
        duration=float(duration if duration is not None else song.duration), engine="ground-truth")


def _render(song: Song, version: Version, engine: str, sample_rate: int, soundfont: str | None) -> dict:
    """Stems (N, 2) as int16 and their sum (the renderers keep its peak at 0.95, so it fits):
    the files hold mixture == sum of stems exactly."""
    if engine == "soundfont":
        audio = render_song_soundfont(song, sample_rate, version.instrumentation(), soundfont)
    else:
        mono = render_song(song, sample_rate, seed=version.seed)
        audio = {name: np.repeat(mono[name][:, None], 2, axis=1) for name in STEMS}
    stems = {name: np.clip(np.round(audio[name] * 32768.0), -32768, 32767).astype(np.int32) for name in STEMS}
    mixture = stems["bass"] + stems["drums"] + stems["other"] + stems["vocals"]
    return {**{name: a.astype(np.int16) for name, a in stems.items()}, "mixture": np.clip(mixture, -32768, 32767)
            .astype(np.int16)}


def _link(target: Path, link: Path) -> None:
    """``link`` -> ``target`` (relative symlink; a copy where links are not allowed)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    try:
        link.symlink_to(os.path.relpath(target, link.parent))
    except OSError:
        shutil.copyfile(target, link)


def _write_track(out: Path, song: Song, version: Version, work_id: str, split: str, engine: str,
                 sample_rate: int, soundfont: str | None) -> dict[str, str]:
    track = version.version_id
    folder = out / split / track
    if not all((folder / f"{name}.wav").exists() for name in ("mixture", *STEMS)):
        audio = _render(song, version, engine, sample_rate, soundfont)
        for name in STEMS:  # stems first, the mixture last: a complete folder has a mixture
            save_audio(folder / f"{name}.wav", audio[name].T, sample_rate, subtype="PCM_16")
        save_audio(folder / "mixture.wav", audio["mixture"].T, sample_rate, subtype="PCM_16")
    duration = int(np.ceil(song.duration * sample_rate)) / sample_rate
    mixture = f"{split}/{track}/mixture.wav"
    truth = song_truth(song, mixture, duration)
    save_result(truth, out / "annotations" / f"{track}.json")
    save_jams(truth, out / "annotations" / f"{track}.jams")
    _link(folder / "mixture.wav", out / "mixtures" / f"{track}.wav")
    return {"track": track, "work_id": work_id, "version_id": version.version_id, "split": split, "key": song.key,
            "key_signature": song.key_signature, "tempo": f"{song.tempo:.3f}", "time_signature": song.time_signature,
            "duration": f"{duration:.3f}", "transpose": str(version.transpose),
            "tempo_factor": f"{version.tempo_factor:.3f}", "drum_style": version.drum_style,
            "form": " ".join(f"{label}:{bars}" for label, bars in song.form), "mixture": mixture,
            "annotation": f"annotations/{track}.json",
            "soundfont": Path(find_soundfont(soundfont)).name if engine == "soundfont" else ""}


def write_dataset(out: str | Path, works: int = 20, versions: int = 3, seed: int = 0, test_fraction: float = 0.25,
                  engine: str = "soundfont", sample_rate: int = 44100, soundfont: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> Path:
    """Compose ``works`` works, perform ``versions`` versions of each, render and annotate them.

    Args:
        out: dataset folder (created; tracks already complete there are not rendered again).
        works, versions: corpus size (``versions=1``: no covers). seed: the whole corpus
            follows from it. test_fraction: share of works (with all their versions) in test/.
        engine: "soundfont" (FluidSynth, GM instruments) or "numpy" (songscope's own
            instruments, no extra dependency). sample_rate: Hz. soundfont: a GM soundfont (.sf2 /
            .sf3), or several separated by commas: the tracks take them in turn (a corpus that
            does not sound like one synthesizer).
        progress: called with (tracks done, tracks in all) after each track.

    Returns:
        the path of ``manifest.csv``.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if works < 1 or versions < 1:
        raise InputError("works and versions must be at least 1")
    if not 0.0 <= test_fraction < 1.0:
        raise InputError("test_fraction must be in [0, 1)")
    out = Path(out)
    settings = {"seed": seed, "engine": engine, "sample_rate": sample_rate, "test_fraction": test_fraction,
                "soundfont": str(soundfont) if soundfont else None}
    stored = out / "synth_settings.json"
    if stored.exists() and json.loads(stored.read_text()) != settings:
        raise InputError(f"{out} holds a corpus made with other settings ({stored.read_text().strip()}); "
                         "use another folder")
    write_text(stored, json.dumps(settings) + "\n")
    rng = np.random.default_rng([seed, 13])
    test_works = set(rng.permutation(works)[: int(round(works * test_fraction))].tolist())
    fonts = [f.strip() for f in soundfont.split(",") if f.strip()] if soundfont else [None]
    rows, total = [], works * versions
    for w in range(works):
        work = compose_work(seed * 100003 + w, f"work{w:04d}")
        split = "test" if w in test_works else "train"
        for version in make_versions(work, versions, seed):
            rows.append(_write_track(out, arrange(work, version), version, work.work_id, split, engine,
                                     sample_rate, fonts[len(rows) % len(fonts)]))
            if progress:
                progress(len(rows), total)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(out / "manifest.csv", buffer.getvalue())
