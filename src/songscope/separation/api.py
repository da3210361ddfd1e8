"""Public separation entry points: ``separate`` (files and folders, streaming, bounded
memory) and ``separate_audio`` (arrays in memory).

Stems come out at the engine's sample rate (44.1 kHz for every shipped engine); inputs at
other rates are resampled on the fly. Mono inputs give mono stems; inputs with more than
two channels are folded to stereo (odd channels left, even channels right).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from ..atomic import atomic_path
from ..audio.decode import AudioInfo, iter_blocks, require_duration
from ..audio.signal import Audio, fit_channels
from ..errors import AudioError, BatchError, InputError
from ..result import Stems
from .chunked import separate_array, separate_stream
from .engine import DEFAULT_OVERLAP, Separator
from .stems import parse_stems

__all__ = ["CollectedStems", "StemSink", "load_separator", "separate", "separate_audio", "separate_file",
           "separate_into", "write_stems", "SeparateOptions"]

_FORMATS = {"wav": "PCM_16", "flac": "PCM_24", "wav32": "FLOAT"}


@functools.lru_cache(maxsize=2)
def load_separator(model: str = "classic", device: str | None = None) -> Separator:
    """The separation engine of a ``-m`` value (``classic``, a name, a path, or ``a,b`` combined),
    loaded once per process."""
    from ..models.registry import load_engine

    return load_engine("separation", model, device)


@dataclass(frozen=True)
class SeparateOptions:
    """What to write per input.

    Attributes:
        stems: stems to write (None: all the engine gives). two_stems: write this stem and
            "no_<stem>" (mixture minus it) only. residual: also write "residual" (mixture minus the
            written stems). exact_sum: spread the residual over all stems so that they sum
            exactly to the (resampled) mixture. overlap: fraction of a window shared with the next.
        window_seconds: chunk length (None: the engine's). format: wav (16-bit), flac (24-bit)
            or wav32 (float).
    """

    stems: tuple[str, ...] | None = None
    two_stems: str | None = None
    residual: bool = False
    exact_sum: bool = False
    overlap: float = DEFAULT_OVERLAP
    window_seconds: float | None = None
    format: str = "wav"

    def __post_init__(self) -> None:
        if not 0.0 <= self.overlap < 1.0:
            raise InputError("overlap must be in [0, 1)")
        if self.format not in _FORMATS:
            raise InputError(f"format must be one of {', '.join(_FORMATS)}")
        if self.window_seconds is not None and self.window_seconds < 0.5:
            raise InputError("window must be at least 0.5 s")


def _window_hop(separator: Separator, options: SeparateOptions) -> tuple[int, int]:
    window = separator.window
    if options.window_seconds is not None and not separator.fixed_window:
        window = int(round(options.window_seconds * separator.sample_rate))
    return window, separator.hop(window, options.overlap)


def _outputs(separator: Separator, options: SeparateOptions) -> tuple[tuple[str, ...], list[str]]:
    """(stems to keep from the engine, names of the files to write)."""
    if options.two_stems:
        stem = parse_stems(options.two_stems, separator.targets)
        if len(stem) != 1:
            raise InputError("--two-stems takes one stem")
        return stem, [stem[0], f"no_{stem[0]}"]
    keep = parse_stems(",".join(options.stems), separator.targets) if options.stems else separator.targets
    return keep, list(keep) + (["residual"] if options.residual else [])


def _post(mixture: np.ndarray, sources: np.ndarray, separator: Separator, keep: tuple[str, ...],
          options: SeparateOptions) -> list[np.ndarray]:
    """Engine output (S, C, n) -> the arrays to write, in :func:`_outputs` order."""
    if options.exact_sum:
        sources = sources + (mixture - sources.sum(axis=0)) / len(sources)
    chosen = [sources[separator.targets.index(s)] for s in keep]
    if options.two_stems or options.residual:
        chosen.append(mixture - np.sum(chosen, axis=0))
    return chosen


class _Fifo:
    """Input samples waiting for their separated counterparts."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        self.parts.append(block)

    def pop(self, n: int) -> np.ndarray:
        """The oldest ``n`` samples (C, n)."""
        data = np.concatenate(self.parts, axis=-1)
        self.parts = [data[:, n:]]
        return data[:, :n]


def _resampled_blocks(path: Path, meta: AudioInfo, blocks: Iterator[np.ndarray],
                      separator: Separator) -> Iterator[np.ndarray]:
    """Decoded blocks of ``path`` (described by ``meta``) checked, fitted to the engine's
    channels and resampled to its rate."""
    stream = None
    for block in blocks:
        if not np.all(np.isfinite(block)):
            raise AudioError(f"{path}: contains NaN or infinite samples")
        block = fit_channels(block, separator.channels)
        if meta.sample_rate != separator.sample_rate:
            if stream is None:
                stream = soxr.ResampleStream(meta.sample_rate, separator.sample_rate, block.shape[0],
                                             dtype="float32", quality="HQ")
            block = stream.resample_chunk(np.ascontiguousarray(block.T)).T
        yield np.ascontiguousarray(block, dtype=np.float32)
    if stream is not None:
        tail = stream.resample_chunk(np.zeros((0, block.shape[0]), np.float32), last=True).T
        yield np.ascontiguousarray(tail, dtype=np.float32)


class StemSink(Protocol):
    """Where separated chunks go as they stream out of the separator (``analyze --demix``)."""

    def push(self, sources: Mapping[str, np.ndarray]) -> None:
        """One chunk: stem name -> (C, n) float32 at the separator's rate."""

    def finish(self) -> Stems:
        """What the sink made of the whole stream."""


class CollectedStems:
    """Sink: every chunk kept, ``finish()`` gives the whole stems in memory."""

    def __init__(self, sample_rate: int, model: str):
        self.sample_rate, self.model = sample_rate, model
        self.parts: dict[str, list[np.ndarray]] = {}

    def push(self, sources: Mapping[str, np.ndarray]) -> None:
        for stem, data in sources.items():
            self.parts.setdefault(stem, []).append(data)

    def finish(self) -> Stems:
        parts, self.parts = self.parts, {}
        return Stems({k: np.concatenate(v, axis=-1) for k, v in parts.items()}, self.sample_rate, self.model)


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def write_stems(blocks: Iterable[np.ndarray], out_dir: Path | None, separator: Separator,
                options: SeparateOptions = SeparateOptions(), name: str = "audio", expected: int = 0,
                progress: bool = False, sink: StemSink | None = None) -> tuple[dict[str, Path], Stems | None]:
    """Separate a stream of blocks (C, n) already at the engine's rate and channels, writing
    ``out_dir/<stem>.<ext>`` per output chunk by chunk (``out_dir`` None: write nothing).

    Args:
        name: the input's name for messages and the progress bar. expected: samples, for the bar.
        sink: also hand every separated chunk to this sink (what ``analyze`` hands to engines
            that read stems: :class:`CollectedStems` or the engine's own).

    Returns:
        ``(stem -> written path, sink.finish() or None)``.

    Raises:
        AudioError: no samples, or digital silence. Nothing is written then.
    """
    keep, names = _outputs(separator, options)
    window, hop = _window_hop(separator, options)
    extension = "flac" if options.format == "flac" else "wav"
    targets = {stem: out_dir / f"{stem}.{extension}" for stem in names} if out_dir is not None else {}
    seen, frames = False, 0
    fifo = _Fifo()

    def remember(stream: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal seen
        for block in stream:
            seen = seen or bool(np.any(block))
            fifo.push(block)
            yield block

    with contextlib.ExitStack() as stack:
        if out_dir is not None and not out_dir.exists():
            stack.callback(_remove_if_empty, out_dir)  # a failed or interrupted input leaves no empty folder
        temps = {stem: stack.enter_context(atomic_path(target)) for stem, target in targets.items()}
        handles: dict[str, sf.SoundFile] = {}
        bar = stack.enter_context(tqdm(total=expected, desc=name, unit="sample", unit_scale=True,
                                       file=sys.stderr, disable=not progress))
        for sources in separate_stream(separator.run, remember(blocks), window, hop, len(separator.targets),
                                       separator.fixed_window):
            bar.update(sources.shape[-1])
            mixture = fifo.pop(sources.shape[-1])
            outputs = dict(zip(names, _post(mixture, sources, separator, keep, options)))
            if sink is not None:
                sink.push(outputs)
            for stem, data in outputs.items():
                if stem not in temps:
                    continue
                if stem not in handles:
                    handles[stem] = stack.enter_context(sf.SoundFile(
                        str(temps[stem]), "w", separator.sample_rate, data.shape[0],
                        subtype=_FORMATS[options.format], format=extension.upper()))
                handles[stem].write(data.T if options.format == "wav32" else np.clip(data.T, -1.0, 1.0))
            frames += sources.shape[-1]
        if frames == 0:
            raise AudioError(f"{name}: holds no audio frames")
        if not seen:
            raise AudioError(f"{name}: digital silence, nothing to separate")
    return targets, sink.finish() if sink is not None else None


#: Samples per block when an in-memory mixture streams through a separator.
STREAM_BLOCK = 1 << 18


def separate_into(mixture: np.ndarray, separator: Separator, sink: StemSink | None, out_dir: Path | None = None,
                  name: str = "audio") -> Stems | None:
    """Stream an in-memory mixture (C, N), already at the engine's rate and channels, through
    ``separator`` in blocks, handing each separated chunk to ``sink`` (and writing the stems to
    ``out_dir`` when given): what ``analyze --demix`` and structure training's stem cache run.

    Returns:
        ``sink.finish()`` (None without a sink).

    Raises:
        AudioError: no samples, or digital silence.
    """
    blocks = (mixture[:, i:i + STREAM_BLOCK] for i in range(0, mixture.shape[-1], STREAM_BLOCK))
    return write_stems(blocks, out_dir, separator, name=name, sink=sink)[1]


def separate_file(path: str | Path, out_dir: str | Path, separator: Separator,
                  options: SeparateOptions = SeparateOptions(), progress: bool = False) -> dict[str, Path]:
    """Separate one file into ``out_dir/<name>.<ext>`` per stem, streaming (bounded memory).

    Returns:
        stem name -> written path.

    Raises:
        AudioError: unreadable, empty, shorter than a second, silent or non-finite input.
            Nothing is written then.
    """
    path = Path(path)
    meta, decoded = iter_blocks(path)
    require_duration(meta.duration, "separation", path)
    blocks = _resampled_blocks(path, meta, decoded, separator)
    return write_stems(blocks, Path(out_dir), separator, options, str(path), int(meta.duration * separator.sample_rate),
                       progress)[0]


def separate_audio(audio: np.ndarray, sample_rate: int, model: str = "classic", device: str | None = None,
                   options: SeparateOptions = SeparateOptions()) -> dict[str, np.ndarray]:
    """Separate an in-memory signal.

    Args:
        audio: (C, N) or (N,) float samples. sample_rate: Hz.
        model: "classic", a registry name or a checkpoint path. device: cpu/cuda/mps (None: best).

    Returns:
        stem name -> (C', N') float32 at the engine's rate (C' = channels after fitting).
    """
    separator = load_separator(model, device)
    signal = Audio.from_array(audio, sample_rate)
    mixture = signal.get(separator.sample_rate, separator.channels)
    if not np.any(mixture):
        raise AudioError("digital silence, nothing to separate")
    keep, names = _outputs(separator, options)
    window, hop = _window_hop(separator, options)
    sources = separate_array(separator.run, mixture, window, hop, len(separator.targets), separator.fixed_window)
    return dict(zip(names, _post(mixture, sources, separator, keep, options)))


def _one(item: tuple[Path, Path], separator_name: str, device: str | None, options: SeparateOptions,
         progress: bool = False) -> dict[str, Path]:
    path, out = item
    return separate_file(path, out, load_separator(separator_name, device), options, progress)


def separate(paths: str | Path | Sequence[str | Path], out_dir: str | Path = "separated", model: str = "classic",
             device: str | None = None, options: SeparateOptions = SeparateOptions(), jobs: int = 1,
             progress: bool = False, errors: str = "raise") -> dict[Path, dict[str, Path]]:
    """Separate files and folders into ``out_dir/<track>/<stem>.wav``.

    Args:
        paths: files and/or folders (searched recursively).
        out_dir: output root. model: "classic" (default), a registry name or a checkpoint path.
        device: cpu/cuda/mps for neural models. options: see :class:`SeparateOptions`.
        jobs: worker processes. progress: progress bar. errors: "raise" (BatchError after the
            batch when some inputs failed) or "warn".

    Returns:
        input path -> {stem: written path} for the inputs that worked.
    """
    from ..library.inputs import expand_inputs, output_stems
    from ..library.runner import run_batch

    files = expand_inputs([paths] if isinstance(paths, (str, Path)) else list(paths))
    load_separator(model, device)  # fail early on a bad model name
    names = output_stems(files)
    items = [(f, Path(out_dir) / names[f]) for f in files]
    single = len(items) == 1
    results, failures = run_batch(functools.partial(_one, separator_name=model, device=device, options=options,
                                                    progress=progress and single),
                                  items, jobs=jobs, progress=progress and not single, desc="separating")
    for failure in failures:
        failure.item = failure.item[0]
    done = {f: r for f, r in zip(files, results) if r is not None}
    if failures:
        if errors == "raise":
            raise BatchError(list(done.values()), failures)
        import warnings
        warnings.warn(f"{len(failures)} input(s) failed: " + "; ".join(f.message for f in failures), stacklevel=2)
    return done
