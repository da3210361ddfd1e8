"""Decoding audio files: libsndfile first (wav, flac, ogg, mp3, ...), ffmpeg as a fallback.

MP3 through libsndfile (mpg123) is gapless: the encoder delay and padding that LAME
records are trimmed, so an MP3 decodes aligned with the WAV it was made from.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from ..errors import AudioError, InputError

__all__ = ["AudioInfo", "MIN_DURATION", "info", "iter_blocks", "require_duration", "require_music"]

#: Shortest input analysis accepts, in seconds (a couple of beats at slow tempi).
MIN_DURATION = 1.0


def require_duration(duration: float, task: str, name: object = None) -> float:
    """``duration`` (s), or AudioError when it is under :data:`MIN_DURATION`; ``task`` names the
    job in the message ("analyze", "separation"), ``name`` (e.g. the path) prefixes it."""
    if duration < MIN_DURATION:
        where = f"{name}: " if name is not None else ""
        raise AudioError(f"{where}too short ({duration:.2f} s); {task} needs at least {MIN_DURATION:.1f} s")
    return duration


def require_music(samples: np.ndarray, sample_rate: float, task: str, name: object = None) -> float:
    """Duration (s) of ``samples`` (..., N); AudioError if shorter than :data:`MIN_DURATION`
    or digital silence (see :func:`require_duration`)."""
    duration = require_duration(samples.shape[-1] / sample_rate, task, name)
    if not np.any(samples):
        where = f"{name}: " if name is not None else ""
        raise AudioError(f"{where}digital silence, nothing for {task}")
    return duration


_BLOCK_FRAMES = 1 << 18  # frames per decoded block when streaming


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds: sample rate (Hz), channels, frames, duration (s), decoder used."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    decoder: str

    @property
    def duration(self) -> float:
        return self.frames / float(self.sample_rate)


@contextlib.contextmanager
def _quiet_decoder() -> Iterator[None]:
    """Silence what the C decoders under libsndfile print on the process's stderr (mpg123's
    "Note: Illegal Audio-MPEG-Header ..." lines): songscope reports a bad file in one line itself."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable file descriptor 2 (embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty")
    return path


def _ffprobe(path: Path) -> AudioInfo:
    exe = shutil.which("ffprobe")
    if exe is None:
        raise AudioError(
            f"{path}: not a format libsndfile can read (wav, flac, ogg, mp3, aiff, ...); "
            "install ffmpeg to read other formats"
        )
    proc = subprocess.run(
        [exe, "-v", "error", "-select_streams", "a:0", "-count_packets",
         "-show_entries", "stream=sample_rate,channels,duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=False,
    )
    streams = json.loads(proc.stdout or "{}").get("streams", []) if proc.returncode == 0 else []
    if not streams:
        raise AudioError(f"{path}: not an audio file (neither libsndfile nor ffmpeg can decode it)")
    stream = streams[0]
    sr = int(stream["sample_rate"])
    duration = float(stream.get("duration") or 0.0)
    return AudioInfo(path, sr, int(stream["channels"]), int(round(duration * sr)), "ffmpeg")


def _wav_shortfall(path: Path) -> int:
    """Bytes missing from a RIFF/WAVE file's data chunk (0 when complete or not a WAV)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        pos = 12
        while pos + 8 <= size:
            handle.seek(pos)
            chunk = handle.read(8)
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                return max(0, pos + 8 + length - size) if length != 0xFFFFFFFF else 0
            pos += 8 + length + (length & 1)
    return 0


def info(path: str | Path) -> AudioInfo:
    """Probe a file without decoding it. Raises :class:`AudioError` for non-audio files."""
    path = _check_path(path)
    try:
        with _quiet_decoder():
            meta = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _ffprobe(path)
    if meta.frames <= 0 or meta.samplerate <= 0:
        raise AudioError(f"{path}: holds no audio frames")
    missing = _wav_shortfall(path)
    if missing:
        raise AudioError(f"{path}: file is truncated ({missing} bytes of audio data missing)")
    return AudioInfo(path, int(meta.samplerate), int(meta.channels), int(meta.frames), "libsndfile")


def _sndfile_blocks(meta: AudioInfo) -> Iterator[np.ndarray]:
    read = 0
    try:
        with _quiet_decoder():
            handle = sf.SoundFile(str(meta.path))
        with handle:
            while True:
                with _quiet_decoder():
                    block = handle.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                read += len(block)
                yield block.T
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{meta.path}: decoding failed after {read} frames ({exc})") from None
    # libsndfile reports the header's frame count; reading less means the file was cut short
    if read < 0.99 * meta.frames - 2048 or read == 0:
        raise AudioError(
            f"{meta.path}: file is truncated (header says {meta.frames} frames, only {read} decoded)"
        )


def _ffmpeg_blocks(meta: AudioInfo) -> Iterator[np.ndarray]:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioError(f"{meta.path}: needs ffmpeg to decode; install ffmpeg")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(meta.path), "-map", "0:a:0",
           "-f", "f32le", "-c:a", "pcm_f32le", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    bytes_per_block = _BLOCK_FRAMES * meta.channels * 4
    total = 0
    try:
        while True:
            raw = proc.stdout.read(bytes_per_block)
            if not raw:
                break
            usable = len(raw) - len(raw) % (4 * meta.channels)
            data = np.frombuffer(raw[:usable], dtype="<f4").reshape(-1, meta.channels)
            total += len(data)
            yield data.T.copy()
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.stderr.close()
        code = proc.wait()
    if code != 0 or total == 0:
        last = err.splitlines()[-1] if err else "no audio decoded"
        raise AudioError(f"{meta.path}: ffmpeg could not decode it ({last})")


def iter_blocks(path: str | Path) -> tuple[AudioInfo, Iterator[np.ndarray]]:
    """Stream a file as float32 blocks of shape (channels, frames) at its own rate."""
    meta = info(path)
    blocks = _sndfile_blocks(meta) if meta.decoder == "libsndfile" else _ffmpeg_blocks(meta)
    return meta, blocks
