"""allin1's front end in torch against madmom's own processing chain.

``fixtures/allinone/madmom_spectrograms.npz`` was made by running madmom 0.16.1 (built from its
PyPI sdist in a separate Python 3.10 / numpy 1.23.5 environment, outside this repository) on the
signals of :func:`signals`, through the chain allin1's ``spectrogram.py`` builds:
``FramedSignalProcessor(frame_size=2048, fps=100)``, ``ShortTimeFourierTransformProcessor()``,
``FilteredSpectrogramProcessor(num_bands=12, fmin=30, fmax=17000, norm_filters=True)``,
``LogarithmicSpectrogramProcessor(mul=1, add=1)``; plus the non-zero entries of madmom's
``LogarithmicFilterbank`` for 2048-sample frames at 44.1 kHz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from songscope.structure.allinone.frontend import filterbank, log_spectrogram

FIXTURE = Path(__file__).parent / "fixtures" / "allinone" / "madmom_spectrograms.npz"
SR = 44100


def signals() -> dict[str, np.ndarray]:
    """The signals the fixture was computed from (noise, a chirp of 54243 samples, clicks on a
    tone, and 1000 samples: shorter than one frame)."""
    rng = np.random.default_rng(0)
    t = np.arange(54243) / SR
    clicks = np.zeros(SR * 2)
    clicks[::SR // 4] = 1.0
    clicks += 0.2 * np.sin(2 * np.pi * 440.0 * np.arange(SR * 2) / SR)
    return {"noise": 0.1 * rng.standard_normal(SR), "chirp": 0.5 * np.sin(2 * np.pi * (50.0 * t + 4000.0 * t ** 2)),
            "clicks": clicks, "short": 0.3 * rng.standard_normal(1000)}


def test_filterbank_equals_madmoms():
    ref = np.load(FIXTURE)
    bank = filterbank()
    assert bank.shape == (1024, 81)
    expected = np.zeros_like(bank)
    expected[ref["filterbank_rows"], ref["filterbank_cols"]] = ref["filterbank_values"]
    np.testing.assert_array_equal(bank, expected)


def test_log_spectrogram_matches_madmom():
    ref = np.load(FIXTURE)
    for name, x in signals().items():
        ours = log_spectrogram(torch.from_numpy(x.astype(np.float32))).numpy()
        assert ours.shape == ref[name].shape == (-(-len(x) // 441), 81), name
        np.testing.assert_allclose(ours, ref[name], rtol=0, atol=1e-5, err_msg=name)


def test_batches_of_stems_are_computed_alike():
    x = torch.from_numpy(np.stack(list(signals().values())[:1] * 3).astype(np.float32))
    batch = log_spectrogram(x)
    assert batch.shape == (3, 100, 81)
    np.testing.assert_allclose(batch[1].numpy(), log_spectrogram(x[1]).numpy(), rtol=0, atol=1e-6)
