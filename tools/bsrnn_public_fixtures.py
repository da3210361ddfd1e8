"""Rebuild ``tests/fixtures/bsrnn_public/`` by running the public Band-Split RNN code.

Run it OUTSIDE this repository's environment, in a throwaway virtualenv holding torch,
pytorch_lightning 1.9.x, omegaconf, musdb 0.4 and soundfile, with a checkout (or a copy as read)
of github.com/amanteur/BandSplitRNN-PyTorch's ``src`` folder::

    python tools/bsrnn_public_fixtures.py --public-src /tmp/BandSplitRNN-PyTorch/src --out /tmp/bsrnn-out

then copy ``OUT/fixtures/*`` into ``tests/fixtures/bsrnn_public/``. Nothing of the public code is
imported by songscope: this script only drives it. torchaudio is replaced by a featurizer making
the same ``torch.stft`` / ``torch.istft`` calls as ``torchaudio.transforms.Spectrogram(power=None)``
and ``InverseSpectrogram`` (their window is a buffer named ``window``, as there), since torchaudio
wheels may not load against the installed torch.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]

#: The Hydra-style config of the tiny model (public config keys; ``is_mono`` interpolated as in
#: their conf/model/*.yaml).
CONFIG = """
model:
  sr: 44100
  n_fft: 128
  bandsplits: [[2000, 500], [8000, 2000], [20000, 4000]]
  bottleneck_layer: "rnn"
  t_timesteps: 8
  fc_dim: 6
  rnn_dim: 4
  rnn_type: "LSTM"
  bidirectional: True
  num_layers: 1
  mlp_dim: 8
  return_mask: False
  complex_as_channel: True
  is_mono: ${..train_dataset.is_mono}
train_dataset:
  file_dir: /data/musdb18hq
  txt_dir: "files/"
  txt_path: null
  target: bass
  mode: train
  is_mono: False
  sr: 44100
  silent_prob: 0.0
  mix_prob: 1.0
  mix_tgt_too: False
  mix_normalize: False
featurizer:
  direct_transform: {_target_: torchaudio.transforms.Spectrogram, n_fft: 128, win_length: 128, hop_length: 32,
                     power: null}
  inverse_transform: {_target_: torchaudio.transforms.InverseSpectrogram, n_fft: 128, win_length: 128,
                      hop_length: 32}
train_loader: {batch_size: 2, shuffle: True, drop_last: True}
opt: {_target_: torch.optim.Adam, lr: 1e-3}
sch: {_target_: torch.optim.lr_scheduler.StepLR, step_size: 2, gamma: 0.98}
ckpt_path: null
trainer: {fast_dev_run: False, max_epochs: 1, gradient_clip_val: 5, precision: 32, deterministic: True}
"""

#: Bandsplits of the public conf/model/bandsplitrnn{V7,bass,drums}.yaml.
LAYOUTS = {
    "vocals": [[1000, 100], [4000, 250], [8000, 500], [16000, 1000], [20000, 2000]],
    "bass": [[500, 50], [1000, 100], [4000, 500], [8000, 1000], [16000, 2000]],
    "drums": [[1000, 50], [2000, 100], [4000, 250], [8000, 500], [16000, 1000]],
}
STFT_SETTINGS = [(44100, 2048), (44100, 4096), (48000, 2048), (44100, 1024), (22050, 1024), (16000, 512)]


class Spectrogram(nn.Module):
    """``torchaudio.transforms.Spectrogram(power=None)``: Hann window, centred, reflect padding."""

    def __init__(self, n_fft: int, win_length: int, hop_length: int, power=None, _target_=None):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        spec = torch.stft(x.reshape(-1, shape[-1]), self.n_fft, self.hop_length, self.win_length, self.window,
                          center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        return spec.reshape(shape[:-1] + spec.shape[-2:])


class InverseSpectrogram(Spectrogram):
    """``torchaudio.transforms.InverseSpectrogram``."""

    def forward(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        shape = spec.shape
        wave = torch.istft(spec.reshape((-1,) + shape[-2:]), self.n_fft, self.hop_length, self.win_length,
                           self.window, center=True, normalized=False, onesided=True, length=length)
        return wave.reshape(shape[:-2] + wave.shape[-1:])


def lightning_checkpoint(out: Path, fixtures: Path) -> None:
    """Their BandSplitRNN in their PLModel, one Lightning epoch, the checkpoint + reference outputs."""
    import pytorch_lightning as pl
    from model import BandSplitRNN, PLModel
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(CONFIG)
    pl.seed_everything(42, workers=True)
    model = BandSplitRNN(**cfg.model)
    featurizer = Spectrogram(**cfg.featurizer.direct_transform)
    inverse = InverseSpectrogram(**cfg.featurizer.inverse_transform)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sch = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.98)
    module = PLModel(model, featurizer, inverse, nn.Sequential(), opt, sch, cfg)
    samples = (cfg.model.t_timesteps - 1) * cfg.featurizer.direct_transform.hop_length
    batches = torch.randn(4, 2, 2, samples, generator=torch.Generator().manual_seed(3)) * 0.1  # B, (mix, tgt), C, N
    batches[:, 0] += batches[:, 1]
    logger = pl.loggers.CSVLogger(str(out / "logs"), name="", version="")
    trainer = pl.Trainer(max_epochs=1, logger=logger, accelerator="cpu", devices=1, gradient_clip_val=5,
                         deterministic=True, enable_progress_bar=False)
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=2))
    shutil.copytree(out / "logs" / "checkpoints", fixtures / "checkpoints", dirs_exist_ok=True)
    shutil.copy(out / "logs" / "hparams.yaml", fixtures / "hparams.yaml")
    model.eval()
    wave = torch.randn(2, 2, samples, generator=torch.Generator().manual_seed(11)) * 0.2
    spec = featurizer(wave)
    with torch.no_grad():
        out_spec = model(spec)
        out_wave = inverse(out_spec, length=samples)
    np.savez_compressed(fixtures / "reference.npz", wave=wave.numpy(), spec=spec.numpy(), out_spec=out_spec.numpy(),
                        out_wave=out_wave.numpy())


def band_edges(fixtures: Path) -> None:
    """Their freq2bands for each layout and STFT setting without empty bands (their model fails on those)."""
    from model.modules.utils import freq2bands

    edges = {}
    for name, layout in LAYOUTS.items():
        for sr, n_fft in STFT_SETTINGS:
            bands = [(int(s), int(e)) for s, e in freq2bands(layout, sr, n_fft)]
            if all(e > s for s, e in bands):
                edges[f"{name}_{sr}_{n_fft}"] = np.array(bands, dtype=np.int32)
    np.savez_compressed(fixtures / "band_edges.npz", **edges)


def sad_indices(public_src: Path, out: Path, fixtures: Path) -> None:
    """Their prepare_dataset.py on the stems of tests/test_separation_sad.py's sad_track()."""
    spec = importlib.util.spec_from_file_location("sad_test", ROOT / "tests" / "test_separation_sad.py")
    test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test)
    stems = test.sad_track()
    folder = out / "musdb" / "test" / "sadtrack"
    folder.mkdir(parents=True, exist_ok=True)
    for name, wave in stems.items():
        sf.write(folder / f"{name}.wav", wave.T, test.SR, subtype="FLOAT")
    sf.write(folder / "mixture.wav", sum(stems.values()).T, test.SR, subtype="FLOAT")
    subprocess.run([sys.executable, "prepare_dataset.py", "-i", str(out / "musdb"), "-o", str(out / "sad"),
                    "--subset", "test", "--sad-cfg-path", "conf/sad/default.yaml", "-t", *stems],
                   cwd=public_src, check=True)
    picked = {name: np.array([int(line.split("\t")[1]) for line in (out / "sad" / f"{name}_test.txt").read_text()
                              .splitlines()], dtype=np.int64) for name in stems}
    np.savez_compressed(fixtures / "sad_indices.npz", **picked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public-src", type=Path, required=True, help="the public repository's src folder")
    parser.add_argument("--out", type=Path, required=True, help="work folder (the fixtures land in OUT/fixtures)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sys.path.insert(0, str(args.public_src.resolve()))
    fixtures = args.out / "fixtures"
    fixtures.mkdir(parents=True, exist_ok=True)
    lightning_checkpoint(args.out, fixtures)
    band_edges(fixtures)
    sad_indices(args.public_src.resolve(), args.out, fixtures)
    print(f"wrote {', '.join(sorted(p.name for p in fixtures.iterdir()))} in {fixtures}")


if __name__ == "__main__":
    main()
