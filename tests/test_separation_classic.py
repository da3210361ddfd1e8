"""The classic separation engine on mixtures whose parts are known: drums get the transients,
bass the low tone, vocals the lead that does not repeat; the stems sum to the mixture; a file
streamed in chunks gives what the same chunks give in memory."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from songscope.conventions import STEMS
from songscope.separation.api import SeparateOptions, load_separator, separate_file
from songscope.separation.chunked import separate_array
from songscope.separation.classic import separate_classic

SR = 44100


def _share(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Projection of an estimate (C, N) onto a mono reference (N,), relative to the reference."""
    return float(np.mean(estimate @ reference) / (reference @ reference))


def _drums_and_bass(seconds: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    n = int(SR * seconds)
    t = np.arange(n) / SR
    bass = 0.3 * np.sin(2 * np.pi * 55 * t)
    drums = np.zeros(n)
    rng = np.random.default_rng(seed)
    for start in range(0, n - 2000, SR // 2):  # a noise burst every 0.5 s
        drums[start:start + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return bass, drums


def test_drums_get_the_transients_bass_the_low_tone_and_the_stems_sum_to_the_mixture():
    bass, drums = _drums_and_bass(6.0)
    t = np.arange(len(bass)) / SR
    tone = 0.1 * np.sin(2 * np.pi * 440 * t)  # a steady tone: neither drums nor bass
    mix = np.stack([bass + drums + tone] * 2).astype(np.float32)
    stems = separate_classic(mix, SR)
    assert stems.shape == (4, 2, len(bass))
    assert np.max(np.abs(stems.sum(0) - mix)) < 1e-5
    b, d = STEMS.index("bass"), STEMS.index("drums")
    assert _share(stems[b], bass) > 0.9
    assert _share(stems[d], drums) > 0.7  # most of the bursts
    assert abs(_share(stems[d], bass)) < 0.05 and abs(_share(stems[d], tone)) < 0.05
    energy = (stems ** 2).sum(axis=(1, 2))
    onsets = np.zeros(len(bass), bool)
    for start in range(0, len(bass) - 2000, SR // 2):
        onsets[start:start + 1000] = True
    transient = (stems[:, :, onsets] ** 2).sum(axis=(1, 2))
    assert transient[d] > 0.5 * transient.sum()  # the drum stem holds most of the energy at the hits
    assert energy[d] < energy.sum()


def test_a_lead_that_does_not_repeat_goes_to_vocals_the_repeating_loop_to_other():
    n = SR * 8
    t = np.arange(n) / SR
    loop = np.zeros(n)
    for k, f in enumerate((262.0, 330.0, 392.0, 330.0)):  # one chord tone per 0.5 s, every 2 s
        on = ((t % 2.0) >= 0.5 * k) & ((t % 2.0) < 0.5 * (k + 1))
        loop += on * 0.2 * np.sin(2 * np.pi * f * t)
    lead = 0.2 * np.sin(2 * np.pi * np.cumsum(500 + 200 * np.sin(2 * np.pi * 0.13 * t)) / SR)  # a slow glide
    stems = separate_classic(np.stack([loop + lead] * 2).astype(np.float32), SR)
    v, o = STEMS.index("vocals"), STEMS.index("other")
    assert _share(stems[v], lead) > 0.5 > _share(stems[v], loop)
    assert _share(stems[o], loop) > 0.5


def test_a_file_streamed_in_chunks_equals_the_same_chunks_in_memory(tmp_path):
    bass, drums = _drums_and_bass(7.0, seed=5)
    mix = np.stack([bass + drums, 0.8 * bass + drums]).astype(np.float32)
    sf.write(str(tmp_path / "mix.wav"), mix.T, SR, subtype="FLOAT")
    separator = load_separator("classic", "cpu")
    options = SeparateOptions(window_seconds=2.0, format="wav32")
    written = separate_file(tmp_path / "mix.wav", tmp_path / "out", separator, options)
    window = int(2.0 * SR)
    in_memory = separate_array(separator.run, mix, window, separator.hop(window, options.overlap), len(STEMS))
    for i, stem in enumerate(STEMS):
        streamed = sf.read(str(written[stem]), dtype="float32", always_2d=True)[0].T
        assert np.max(np.abs(streamed - in_memory[i])) < 1e-5
    assert np.max(np.abs(in_memory.sum(0) - mix)) < 1e-4
