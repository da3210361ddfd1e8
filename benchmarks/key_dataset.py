"""Render a seeded synthetic key dataset: train/ and val/ folders of songs in random keys
(major and minor, 80-140 BPM, 3/4 and 4/4) with ``labels.csv`` (path,key) beside them, and
``labels_semi.csv``, which keeps the labels of every fourth training song (and of val/, for
measuring), for semi-supervised (24-STONE) training.

    python benchmarks/key_dataset.py OUT_DIR [--train 80] [--val 20] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from songscope.audio.save import save_audio
from songscope.synth import make_song, render_song

FORM = (("intro", 2), ("verse", 4), ("chorus", 4), ("verse", 4), ("chorus", 4), ("outro", 2))


def render_dataset(out: Path, train: int = 80, val: int = 20, seed: int = 0) -> Path:
    """Write the songs and ``out/labels.csv``; returns the CSV path. Song ``i`` of a split
    depends only on (seed, split, i)."""
    rows = ["path,key"]
    for split, count, base in (("train", train, 0), ("val", val, 100000)):
        for i in range(count):
            song_seed = seed * 1000003 + base + i
            song = make_song(seed=song_seed, beats_per_bar=3 if i % 4 == 3 else 4, form=FORM)
            mix = render_song(song, 22050, seed=song_seed)["mixture"]
            name = f"{split}/{split}{i:04d}.flac"  # unique names: evaluation pairs files by name
            save_audio(out / name, mix, 22050)
            rows.append(f"{name},{song.key}")
    labels = out / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    semi = [row for i, row in enumerate(rows) if not row.startswith("train/") or (i - 1) % 4 == 0]
    (out / "labels_semi.csv").write_text("\n".join(semi) + "\n")
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=80)
    parser.add_argument("--val", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    render_dataset(args.out, args.train, args.val, args.seed)
    print(f"wrote {args.train} + {args.val} songs and labels.csv to {args.out}")


if __name__ == "__main__":
    main()
