"""Procedural songs with exact ground truth (beats, downbeats, key, sections, stems)."""

from .render import STEMS, render_song
from .song import DEFAULT_FORM, Hit, Note, Song, make_song

__all__ = ["DEFAULT_FORM", "Hit", "Note", "STEMS", "Song", "make_song", "render_song"]
