"""Source activity detection against the public BSRNN recipe's ``prepare_dataset.py``.

``fixtures/bsrnn_public/sad_indices.npz`` was made outside this repository: the stems of
:func:`sad_track` were written as float WAV files in a MUSDB18 layout (``test/sadtrack/*.wav``)
and the public ``src/prepare_dataset.py`` (with its ``data/preprocessing.py`` SAD, written out as
read, musdb 0.4 and omegaconf installed) ran on them:
``python prepare_dataset.py -i DB -o OUT --subset test --sad-cfg-path conf/sad/default.yaml
-t vocals bass drums other``. The npz holds, per stem, the start samples listed in its
``<stem>_test.txt``. ``tools/bsrnn_public_fixtures.py`` rebuilds it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from songscope.errors import ConfigError
from songscope.separation.activity import SADConfig, salient_fragments

SR = 44100
FIXTURE = Path(__file__).parent / "fixtures" / "bsrnn_public" / "sad_indices.npz"


def sad_track(seconds: float = 60.0) -> dict[str, np.ndarray]:
    """Four (2, N) float32 stems whose activity changes over time: sung phrases with pauses and a
    stretch sung in the left channel only; a bass that fades under the SAD floor; drums whose hits
    thin out; an accompaniment whose noise rises through the floor.

    Every chunk's RMS differs from the others by far more than float rounding (noise, tremolo):
    on a perfectly steady tone the public rule compares equal values, and which of them count as
    "above the quantile" then depends on rounding (songscope sums in float64, the public code in
    float32)."""
    rng = np.random.default_rng(13)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    vocals = np.zeros((2, n))
    start = 0.0
    while start < seconds:
        length, pause = rng.uniform(1.5, 5.0), rng.uniform(0.5, 4.0)
        on = (t >= start) & (t < start + length)
        voice = 0.2 * np.sin(2 * np.pi * 440 * t[on] + 3 * np.sin(2 * np.pi * 5 * t[on]))
        vocals[:, on] = voice + 0.02 * rng.standard_normal((2, int(on.sum())))
        start += length + pause
    vocals[1, (t > 30) & (t < 42)] = 0.0
    tremolo = 1 + 0.3 * np.sin(2 * np.pi * 0.7 * t)
    bass = 0.3 * tremolo * np.sin(2 * np.pi * 55 * t) * np.where((t > 18) & (t < 33), 1e-3, 1.0)
    bass = np.stack([bass, bass]) + 1e-5 * rng.standard_normal((2, n))
    period = np.where(t < 30, 0.5, 2.5)
    phase = np.mod(t, period)
    drums = 0.5 * np.exp(-phase / 0.02) * rng.standard_normal((2, n))
    other = np.linspace(0, 0.004, n) * rng.standard_normal((2, n))
    return {name: wave.astype(np.float32) for name, wave in
            (("vocals", vocals), ("bass", bass), ("drums", drums), ("other", other))}


def test_salient_fragments_match_the_public_prepare_dataset():
    reference = np.load(FIXTURE)
    stems = sad_track()
    picked = {name: salient_fragments(wave, SR) for name, wave in stems.items()}
    for name, wave in stems.items():
        np.testing.assert_array_equal(picked[name], reference[name], name)
    # the track exercises every rule: none of the stems is all active or all silent
    windows = (len(stems["vocals"][0]) - 6 * SR) // (3 * SR) + 1
    assert all(0 < len(p) < windows for p in picked.values()), {k: len(v) for k, v in picked.items()}


def test_fragments_follow_the_rules():
    loud = (0.5 * np.random.default_rng(0).standard_normal((2, 12 * SR))).astype(np.float32)
    assert list(salient_fragments(loud, SR)) == [0, 3 * SR, 6 * SR]  # 6 s windows every 3 s
    assert len(salient_fragments(loud * 1e-4, SR)) == 0  # under gamma
    one_channel = loud.copy()
    one_channel[1] = 0
    assert len(salient_fragments(one_channel, SR)) == 0  # every channel must be active
    assert len(salient_fragments(loud[:, :SR], SR)) == 0  # shorter than a window
    assert list(salient_fragments(loud[0], SR, SADConfig(window_seconds=4, hop=1.0))) == [0, 4 * SR, 8 * SR]
    with pytest.raises(ConfigError):
        SADConfig(hop=0)


def _chunk_start(wave: np.ndarray, chunk: np.ndarray) -> int:
    """Where ``chunk`` (C, L) lies in ``wave`` (C, N): found by its first non-zero sample."""
    first = int(np.flatnonzero(chunk[0])[0])
    for start in np.flatnonzero(wave[0] == chunk[0, first]) - first:
        if start >= 0 and np.array_equal(wave[:, start:start + chunk.shape[1]], chunk):
            return int(start)
    raise AssertionError("chunk not found in the stem")


def test_training_chunks_come_from_the_salient_fragments(tmp_path):
    import soundfile as sf

    from songscope.separation.data import AugmentConfig, ChunkSampler, find_tracks

    stems = sad_track(30.0)
    folder = tmp_path / "train" / "sadtrack"
    folder.mkdir(parents=True)
    for name, wave in stems.items():
        sf.write(folder / f"{name}.wav", wave.T, SR, subtype="FLOAT")
    length, window = 3 * SR, 6 * SR
    fragments = salient_fragments(stems["vocals"], SR)
    assert 0 < len(fragments) < 9
    for remix in (0.0, 1.0):  # one track for all stems, or each stem drawn on its own
        augment = AugmentConfig(remix=remix, gain=(1.0, 1.0), channel_swap=0.0, activity="sad")
        sampler = ChunkSampler(find_tracks(tmp_path / "train"), ("vocals",), length, 6, seed=1, augment=augment)
        assert sampler.salient_starts(sampler.tracks[0], "vocals") == set(fragments.tolist())
        _, targets = sampler.batch(0)
        for chunk in targets[:, 0]:
            start = _chunk_start(stems["vocals"], chunk)
            assert any(f <= start <= f + window - length for f in fragments), start
    with pytest.raises(ConfigError, match="activity must be rms or sad"):
        AugmentConfig(activity="loud")
