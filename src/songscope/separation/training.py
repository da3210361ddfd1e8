"""Training separation models (Band-Split RNN, U-Nets) through the shared loop.

Data: a MUSDB-style folder (``songscope synth`` output, MUSDB18-HQ, or ``.stem.mp4``) with
``train`` and validation tracks (by default its ``train`` and ``test`` subfolders). The loss
is a weighted sum of the functions in ``losses.py`` named in the config's ``[loss]`` table;
``loss_truncation`` drops that fraction of the worst examples of each batch (training on
noisy labels). Validation: fixed chunks of the validation tracks, the training loss and
SI-SDR per target. Each validation also saves audio and a spectrogram figure of one
example (``snapshots/``; TensorBoard too when installed).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..evaluate.metrics import framewise_sdr, usdr
from ..train.config import build_config
from ..train.loop import TrainResult, best_state, train_loop
from .config import SeparationTrainConfig
from .data import AugmentConfig, ChunkSampler, find_tracks
from .losses import (component_loss, l1_loss, l2_loss, multi_resolution_stft_loss, si_sdr_loss, spectrogram_l1_loss,
                     truncate)
from .model import SeparationModel, build_model, save_separation_model

__all__ = ["train_separation_model", "separation_loss"]


def separation_loss(model: SeparationModel, mixture: torch.Tensor, targets: torch.Tensor,
                    weights: dict[str, float], truncation: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted training loss of a batch and its parts.

    Args:
        mixture: (B, C, N). targets: (B, S, C, N). weights: loss name -> weight.
        truncation: loss-truncation fraction.
    """
    mix_spec, est_spec = model.estimate_spectrograms(mixture)
    estimate = model.stft.inverse(est_spec, mixture.shape[-1])
    parts: dict[str, torch.Tensor] = {}
    for name in weights:
        if name == "l1":
            parts[name] = l1_loss(estimate, targets)
        elif name == "l2":
            parts[name] = l2_loss(estimate, targets)
        elif name == "si_sdr":
            parts[name] = si_sdr_loss(estimate, targets)
        elif name == "mrstft":
            parts[name] = multi_resolution_stft_loss(estimate, targets)
        elif name == "spec_l1":
            parts[name] = spectrogram_l1_loss(est_spec, model.stft(targets))
        elif name == "component":
            mix_mag = mix_spec.abs()
            mask = (est_spec.abs() / (mix_mag[:, None] + 1e-8)).clamp(0.0, 1.0)
            parts[name] = component_loss(mask, model.stft(targets).abs(), mix_mag)
        elif name == "kl":
            parts[name] = model.net.kl.expand(mixture.shape[0]) if hasattr(model.net, "kl") \
                else torch.zeros(mixture.shape[0], device=mixture.device)
    per_example = sum(weights[name] * value for name, value in parts.items())
    total = truncate(per_example, truncation)
    return total, {name: float(value.detach().mean()) for name, value in parts.items()}


def _spectrogram_figure(path: Path, mixture: np.ndarray, estimates: dict[str, np.ndarray], sample_rate: int) -> None:
    from matplotlib.figure import Figure
    from scipy import signal

    from ..atomic import atomic_path

    rows = {"mixture": mixture, **estimates}
    fig = Figure(figsize=(8, 1.6 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, wave) in zip(axes, rows.items()):
        f, t, spec = signal.stft(wave.mean(axis=0), fs=sample_rate, nperseg=2048, noverlap=1536)
        ax.pcolormesh(t, f, 20 * np.log10(np.abs(spec) + 1e-6), vmin=-100, vmax=-10, shading="auto")
        ax.set_ylim(0, 8000)
        ax.set_ylabel(name)
    with atomic_path(path) as tmp:
        fig.savefig(tmp)


def train_separation_model(config: SeparationTrainConfig, progress: bool = True) -> tuple[TrainResult, Path]:
    """Train a separation model; returns the loop's result and the exported model
    (``<out_dir>/separation_model.pt``, usable with ``songscope separate -m PATH``)."""
    from ..audio.save import save_audio
    from ..device import select_device

    tc = config.train
    device = select_device(tc.device)
    model = build_model(config.family, config.model)
    root = Path(config.data)
    train_tracks = find_tracks(root / config.train_split if config.train_split else root)
    val_tracks = find_tracks(root / config.validation_split) if config.validation_split else train_tracks
    targets, rate = model.targets, train_tracks[0].sample_rate
    if rate != model.sample_rate:
        raise ConfigError(f"training audio is at {rate} Hz but the model expects {model.sample_rate} Hz")
    length = model.required_window() or int(round(config.chunk_seconds * rate))
    sampler = ChunkSampler(train_tracks, targets, length, config.batch_size, tc.seed, build_config(AugmentConfig, config.augment, "[augment]"))
    val_sampler = ChunkSampler(val_tracks, targets, length, 1, tc.seed + 7919, None)
    val_batches = [val_sampler.batch(i) for i in range(config.validation_chunks)]
    torch.manual_seed(tc.seed)
    model = model.to(device)

    def loss(m: SeparationModel, b: tuple[torch.Tensor, torch.Tensor]):
        return separation_loss(m, b[0].to(device), b[1].to(device), config.loss, config.loss_truncation)

    def validate(m: SeparationModel) -> dict[str, float]:
        """Training loss, and per target SI-SDR, uSDR and cSDR (median over 1 s frames, NaN where
        a source is silent) of the fixed validation chunks, averaged over the chunks."""
        losses, scores = [], {f"{metric}_{t}": [] for metric in ("si_sdr", "usdr", "csdr") for t in targets}
        for mixture, target in val_batches:
            mix, tgt = torch.from_numpy(mixture).to(device), torch.from_numpy(target).to(device)
            losses.append(separation_loss(m, mix, tgt, config.loss)[0].item())
            estimate = m(mix)
            est, ref = estimate[0].cpu().numpy().transpose(0, 2, 1), target[0].transpose(0, 2, 1)  # (S, N, C)
            frames = framewise_sdr(ref, est, rate)
            for i, t in enumerate(targets):
                scores[f"si_sdr_{t}"].append(-si_sdr_loss(estimate[:, i:i + 1], tgt[:, i:i + 1]).item())
                scores[f"usdr_{t}"].append(usdr(ref[i], est[i]))
                scores[f"csdr_{t}"].append(float(np.nanmedian(frames[i])) if np.any(~np.isnan(frames[i]))
                                           else float("nan"))
        return {"loss": float(np.mean(losses)),
                **{name: float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan") for name, v in scores.items()}}

    def snapshot(m: SeparationModel, step: int, folder: Path, writer: Any) -> None:
        mixture = torch.from_numpy(val_batches[0][0]).to(device)
        estimate = m(mixture)[0].cpu().numpy()
        estimates = dict(zip(targets, estimate))
        save_audio(folder / "mixture.wav", val_batches[0][0][0], rate)
        for name, wave in estimates.items():
            save_audio(folder / f"{name}.wav", wave, rate)
            if writer is not None:
                writer.add_audio(f"estimate/{name}", torch.from_numpy(wave.mean(axis=0)), step, sample_rate=rate)
        _spectrogram_figure(folder / "spectrograms.png", val_batches[0][0][0], estimates, rate)

    settings = {**asdict(config), "train": asdict(tc)}
    result = train_loop(model, sampler, loss, validate, tc, model.family, model.config.to_dict(),
                        {"train_config": settings, "window_seconds": config.window_seconds},
                        progress=progress, snapshot=snapshot)
    model.load_state_dict(best_state(result))
    out = save_separation_model(model, Path(tc.out_dir) / "separation_model.pt",
                                {"window_seconds": config.window_seconds, "best_step": result.best_step,
                                 "best_val_loss": result.best_loss, "train_config": settings})
    return result, out
