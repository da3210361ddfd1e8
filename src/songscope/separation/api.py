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
from typing import Callable, Iterator, Sequence

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from ..atomic import atomic_path
from ..audio.decode import AudioInfo, iter_blocks
from ..errors import AudioError, InputError
from .chunked import separate_array, separate_stream
from .classic import ClassicConfig, separate_classic
from .stems import STEMS, parse_stems

__all__ = ["Separator", "load_separator", "separate", "separate_audio", "SeparateOptions"]

_FORMATS = {"wav": "PCM_16", "flac": "PCM_24", "wav32": "FLOAT"}


@dataclass
class Separator:
    """An engine ready to separate windows: (C, window) float32 -> (S, C, window).

    Attributes:
        name: "classic" or the checkpoint. targets: stems in output order. sample_rate: Hz.
        channels: channels the engine wants (None: any). window: default chunk (samples).
        run: the window function.
    """

    name: str
    targets: tuple[str, ...]
    sample_rate: int
    channels: int | None
    window: int
    run: Callable[[np.ndarray], np.ndarray]
    fixed_window: bool = False


def _neural_separator(name: str, device: str | None) -> Separator:
    try:
        import torch
    except ImportError:
        raise InputError(f"model {name!r} needs PyTorch: pip install 'songscope[neural]'") from None
    from ..device import select_device
    from .model import DEFAULT_WINDOW_SECONDS, load_separation_model

    device = select_device(device)
    model = load_separation_model(name, device)

    @torch.no_grad()
    def run(chunk: np.ndarray) -> np.ndarray:
        wave = torch.from_numpy(np.ascontiguousarray(chunk))[None].to(device)
        return model(wave)[0].float().cpu().numpy()

    required = model.required_window()
    seconds = float(getattr(model, "window_seconds", DEFAULT_WINDOW_SECONDS))
    window = required or int(round(seconds * model.sample_rate))
    return Separator(str(name), model.targets, model.sample_rate, model.channels, window, run, required is not None)


def _combined(parts: list[Separator]) -> Separator:
    """Several single- or multi-target models as one engine (a later model wins a shared stem);
    the paper trains one Band-Split RNN per stem."""
    if len({p.sample_rate for p in parts}) > 1 or len({p.channels for p in parts}) > 1:
        raise InputError("combined models must share sample rate and channel count")
    fixed = {p.window for p in parts if p.fixed_window}
    if len(fixed) > 1:
        raise InputError("combined models have different fixed chunk lengths; separate with each on its own")
    owner = {stem: (i, p.targets.index(stem)) for i, p in enumerate(parts) for stem in p.targets}
    targets = tuple(s for s in STEMS if s in owner)

    def run(chunk: np.ndarray) -> np.ndarray:
        outputs = [p.run(chunk) for p in parts]
        return np.stack([outputs[i][j] for i, j in (owner[s] for s in targets)])

    window = fixed.pop() if fixed else min(p.window for p in parts)
    return Separator("+".join(p.name for p in parts), targets, parts[0].sample_rate, parts[0].channels, window,
                     run, any(p.fixed_window for p in parts))


@functools.lru_cache(maxsize=2)
def load_separator(model: str = "classic", device: str | None = None) -> Separator:
    """The classic engine (``"classic"``), a neural model (registry name or checkpoint path), or
    several comma-separated models combined (e.g. one per stem)."""
    if "," in model:
        return _combined([load_separator(part.strip(), device) for part in model.split(",") if part.strip()])
    if model == "classic":
        config = ClassicConfig()
        return Separator("classic", STEMS, 44100, None, int(config.window_seconds * 44100),
                         functools.partial(separate_classic, sample_rate=44100, config=config))
    return _neural_separator(model, device)


def _fit_channels(block: np.ndarray, wanted: int | None) -> np.ndarray:
    """(C, n) -> (wanted, n): duplicate mono, fold > 2 channels to stereo."""
    channels = block.shape[0]
    if channels > 2:
        block = np.stack([block[0::2].mean(axis=0), block[1::2].mean(axis=0)])
        channels = 2
    if wanted is None or wanted == channels:
        return block
    if wanted == 2 and channels == 1:
        return np.repeat(block, 2, axis=0)
    return block.mean(axis=0, keepdims=True)


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
    overlap: float = 0.25
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
    return window, max(1, int(round(window * (1.0 - options.overlap))))


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


def _resampled_blocks(path: Path, meta: AudioInfo, blocks: Iterator[np.ndarray], separator: Separator,
                      seen: list[bool]) -> Iterator[np.ndarray]:
    """Decoded blocks of ``path`` (described by ``meta``) checked, fitted to the engine's
    channels and resampled to its rate; ``seen[0]`` turns True at the first non-zero sample."""
    stream = None
    for block in blocks:
        if not np.all(np.isfinite(block)):
            raise AudioError(f"{path}: contains NaN or infinite samples")
        seen[0] = seen[0] or bool(np.any(block))
        block = _fit_channels(block, separator.channels)
        if meta.sample_rate != separator.sample_rate:
            if stream is None:
                stream = soxr.ResampleStream(meta.sample_rate, separator.sample_rate, block.shape[0],
                                             dtype="float32", quality="HQ")
            block = stream.resample_chunk(np.ascontiguousarray(block.T)).T
        yield np.ascontiguousarray(block, dtype=np.float32)
    if stream is not None:
        tail = stream.resample_chunk(np.zeros((0, block.shape[0]), np.float32), last=True).T
        yield np.ascontiguousarray(tail, dtype=np.float32)


def separate_file(path: str | Path, out_dir: str | Path, separator: Separator,
                  options: SeparateOptions = SeparateOptions(), progress: bool = False) -> dict[str, Path]:
    """Separate one file into ``out_dir/<name>.<ext>`` per stem, streaming (bounded memory).

    Returns:
        stem name -> written path.

    Raises:
        AudioError: unreadable, empty, silent or non-finite input. Nothing is written then.
    """
    path, out_dir = Path(path), Path(out_dir)
    keep, names = _outputs(separator, options)
    window, hop = _window_hop(separator, options)
    extension = "flac" if options.format == "flac" else "wav"
    targets = {name: out_dir / f"{name}.{extension}" for name in names}
    seen, frames = [False], 0
    fifo = _Fifo()

    def remember(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            fifo.push(block)
            yield block

    with contextlib.ExitStack() as stack:
        temps = {name: stack.enter_context(atomic_path(target)) for name, target in targets.items()}
        handles: dict[str, sf.SoundFile] = {}
        meta, decoded = iter_blocks(path)
        blocks = remember(_resampled_blocks(path, meta, decoded, separator, seen))
        expected = int(meta.duration * separator.sample_rate)
        bar = stack.enter_context(tqdm(total=expected, desc=path.name, unit="sample", unit_scale=True,
                                       file=sys.stderr, disable=not progress))
        for sources in separate_stream(separator.run, blocks, window, hop, len(separator.targets),
                                       separator.fixed_window):
            bar.update(sources.shape[-1])
            mixture = fifo.pop(sources.shape[-1])
            for name, data in zip(names, _post(mixture, sources, separator, keep, options)):
                if name not in handles:
                    handles[name] = stack.enter_context(sf.SoundFile(
                        str(temps[name]), "w", separator.sample_rate, data.shape[0],
                        subtype=_FORMATS[options.format], format=extension.upper()))
                handles[name].write(data.T if options.format == "wav32" else np.clip(data.T, -1.0, 1.0))
            frames += sources.shape[-1]
        if frames == 0:
            raise AudioError(f"{path}: holds no audio frames")
        if not seen[0]:
            raise AudioError(f"{path}: digital silence, nothing to separate")
    return targets


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
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    if audio.size == 0:
        raise AudioError("empty signal")
    if not np.any(audio):
        raise AudioError("digital silence, nothing to separate")
    audio = _fit_channels(audio, separator.channels)
    if sample_rate != separator.sample_rate:
        audio = np.ascontiguousarray(soxr.resample(audio.T, sample_rate, separator.sample_rate, quality="HQ").T)
    keep, names = _outputs(separator, options)
    window, hop = _window_hop(separator, options)
    sources = separate_array(separator.run, audio, window, hop, len(separator.targets), separator.fixed_window)
    return dict(zip(names, _post(audio, sources, separator, keep, options)))


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
    from ..pipeline import BatchError

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
