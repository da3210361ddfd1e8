"""Procedural songs with exact ground truth (beats, downbeats, key, sections, stems), rendered
with songscope's own NumPy instruments or, with the ``synth`` extra, a General-MIDI soundfont."""

from .render import STEMS, mix_stems, render_song
from .song import DEFAULT_FORM, Hit, Note, Song, make_song
from .soundfont import Instrumentation, find_soundfont, render_song_soundfont

__all__ = ["DEFAULT_FORM", "Hit", "Instrumentation", "Note", "STEMS", "Song", "find_soundfont", "make_song",
           "mix_stems", "render_song", "render_song_soundfont"]
