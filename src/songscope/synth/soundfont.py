"""Render a :class:`~songscope.synth.song.Song` with a General-MIDI soundfont (FluidSynth).

Every stem is played by its own synthesizer, so the stems are separate recordings and the
mixture is their sum (to float32 precision). Events are placed to the sample: the synth is
advanced exactly to each event time before the event is sent.

Needs the ``synth`` extra (``pip install 'songscope[synth]'``: pyfluidsynth), the FluidSynth
library (Debian: ``libfluidsynth3``) and a GM soundfont (Debian: ``fluid-soundfont-gm``;
or set ``$SONGSCOPE_SOUNDFONT``).
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from .render import mix_stems
from .song import Song

__all__ = ["GM_DRUMS", "Instrumentation", "find_soundfont", "render_song_soundfont"]

#: GM percussion keys of the drum kinds songs use.
GM_DRUMS = {"kick": 36, "snare": 38, "hat": 42, "open_hat": 46, "crash": 49, "ride": 51, "tom": 45}

_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
               "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")
_INSTALL = ("install it with: pip install 'songscope[synth]' (pyfluidsynth) and the FluidSynth library "
            "and a GM soundfont (Debian/Ubuntu: apt install libfluidsynth3 fluid-soundfont-gm)")


@dataclass(frozen=True)
class Instrumentation:
    """General-MIDI programs (0-127) per pitched stem, drum kit (bank 128 preset) and level.

    Defaults: fingered bass (33), electric piano (4) for 'other', choir aahs (52) as the
    voice-like lead for 'vocals', standard kit (0). ``other_2`` plays the second
    accompaniment part (``parts["other_2"]``) into the 'other' stem.
    """

    bass: int = 33
    other: int = 4
    other_2: int = 46
    vocals: int = 52
    drum_kit: int = 0
    gain: float = 0.4

    def stem_parts(self) -> dict[str, list[tuple[str, int, int, int]]]:
        """stem -> [(part, MIDI channel, bank, program)]."""
        return {"bass": [("bass", 0, 0, self.bass)], "drums": [("drums", 9, 128, self.drum_kit)],
                "other": [("other", 0, 0, self.other), ("other_2", 1, 0, self.other_2)],
                "vocals": [("vocals", 0, 0, self.vocals)]}


def find_soundfont(path: str | Path | None = None) -> Path:
    """The soundfont to use: ``path``, else ``$SONGSCOPE_SOUNDFONT``, else a system GM font."""
    candidates = [path] if path else ([os.environ["SONGSCOPE_SOUNDFONT"]] if os.environ.get("SONGSCOPE_SOUNDFONT")
                                      else list(_SOUNDFONTS))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise InputError(f"no General-MIDI soundfont found (looked at {', '.join(map(str, candidates))}); {_INSTALL}")


def _fluidsynth():
    try:
        import fluidsynth
    except (ImportError, OSError) as exc:
        raise InputError(f"rendering with a soundfont needs FluidSynth ({exc}); {_INSTALL}") from None
    return fluidsynth


def _events(song: Song, part: str, channel: int) -> list[tuple[float, int, int, int, int]]:
    """(time s, on=1/off=0, channel, key, velocity 1-127) of one part ("drums" for the hits)."""
    events = []
    if part == "drums":
        for hit in song.drums:
            key, velocity = GM_DRUMS[hit.kind], int(np.clip(round(hit.velocity * 127), 1, 127))
            events += [(hit.time, 1, channel, key, velocity), (hit.time + 0.1, 0, channel, key, 0)]
    else:
        for note in song.parts.get(part, []):
            velocity = int(np.clip(round(note.velocity * 127), 1, 127))
            events += [(note.start, 1, channel, note.pitch, velocity),
                       (note.start + note.duration, 0, channel, note.pitch, 0)]
    return events


#: FluidSynth renders in blocks of this many frames and applies events at block starts.
BLOCK = 64


def _render_stem(soundfont: Path, song: Song, parts: list[tuple[str, int, int, int]], n: int, sample_rate: int,
                 gain: float) -> np.ndarray:
    """(n, 2) float32 of the ``parts`` (part, channel, bank, program) of ``song`` played by a
    fresh synthesizer (a reused
    one keeps voice and effect tails across ``system_reset``, so stems would depend on what
    was rendered before). Event times are rounded to the nearest block start: within 32
    frames (0.73 ms at 44.1 kHz) of the score."""
    synth = _fluidsynth().Synth(samplerate=float(sample_rate), gain=gain)
    try:
        font = synth.sfload(str(soundfont))
        if font == -1:
            raise InputError(f"{soundfont}: FluidSynth cannot load this soundfont")
        events = []
        for part, channel, bank, program in parts:
            synth.program_select(channel, font, bank, program)
            events += _events(song, part, channel)
        out = np.zeros((n, 2), dtype=np.float32)
        done = 0
        for time, on, channel, key, velocity in sorted(events, key=lambda e: (e[0], e[1])):
            target = min(n, int(round(time * sample_rate / BLOCK)) * BLOCK)
            if target > done:
                _write_float(synth, out[done:target])
                done = target
            if on:
                synth.noteon(channel, key, velocity)
            else:
                synth.noteoff(channel, key)
        if n > done:
            _write_float(synth, out[done:])
    finally:
        synth.delete()
    return out


@lru_cache(maxsize=1)
def _float_writer():
    """``fluid_synth_write_float`` with its C signature (pyfluidsynth binds only the s16 one)."""
    prototype = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
    return prototype(("fluid_synth_write_float", _fluidsynth()._fl))


def _write_float(synth, block: np.ndarray) -> None:
    """Render into ``block`` (frames, 2) float32 in place, through the C API's float
    writer: no 16-bit quantisation, no dither."""
    frames = block.shape[0]
    pointer = block.ctypes.data_as(ctypes.c_void_p)
    status = _float_writer()(synth.synth, frames, pointer, 0, 2, pointer, 1, 2)
    if status != 0:
        raise InputError("FluidSynth failed to render audio")


def render_song_soundfont(song: Song, sample_rate: int = 44100, instrumentation: Instrumentation = Instrumentation(),
                          soundfont: str | Path | None = None) -> dict[str, np.ndarray]:
    """Render the stems with FluidSynth and sum them.

    Args:
        song: the score. sample_rate: Hz. instrumentation: GM programs and gain.
        soundfont: a .sf2 file (default: see :func:`find_soundfont`).

    Returns:
        ``bass``, ``drums``, ``other``, ``vocals`` and ``mixture``: float32 (N, 2) stereo,
        N = ceil(duration * sample_rate); ``mixture`` is the sum of the four stems, scaled
        with them below full scale when it would clip.
    """
    font = find_soundfont(soundfont)
    n = int(np.ceil(song.duration * sample_rate))
    stems = {stem: _render_stem(font, song, parts, n, sample_rate, instrumentation.gain)
             for stem, parts in instrumentation.stem_parts().items()}
    return mix_stems(stems)
