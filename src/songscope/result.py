"""Every result type songscope computes, in one place, and their serialisations: allin1's
JSON schema (plus extra fields), JAMS and Audacity label tracks.

Engines return these types (see :mod:`songscope.models`); writers read them; nothing here
computes an analysis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_text
from .conventions import FPS
from .errors import InputError
from .version import __version__

__all__ = ["AnalysisResult", "BeatResult", "CoverEmbedding", "CoverMatch", "Identification", "KeyResult", "Segment",
           "Stems", "StructureResult", "load_result", "time_signature",
           "save_result", "result_to_jams", "save_jams", "save_audacity_labels"]

#: allin1's fields, in its order; everything after them is songscope's addition.
ALLIN1_FIELDS = ("path", "bpm", "beats", "downbeats", "beat_positions", "segments")


@dataclass
class Segment:
    """A section: start and end in seconds and a label from ``HARMONIX_LABELS``."""

    start: float
    end: float
    label: str

    def to_dict(self) -> dict:
        return {"start": round(float(self.start), 4), "end": round(float(self.end), 4), "label": self.label}


def time_signature(beats_per_bar: int, subdivision: int = 2) -> str:
    """"4/4", "3/4", "2/4", ... for simple meters (``subdivision`` 2); "6/8", "9/8", "12/8" for
    compound ones (``subdivision`` 3: dotted-quarter beats, three eighths each)."""
    if subdivision == 3:
        return f"{3 * beats_per_bar}/8"
    return f"{beats_per_bar}/4"


@dataclass
class BeatResult:
    """Beats of one recording.

    Attributes:
        beats: (N,) beat times in seconds.
        positions: (N,) position of each beat in its bar, 1 = downbeat.
        beats_per_bar: decoded meter (beats per bar); 0 when no beat was found.
        bpm: tempo from the steady inter-beat intervals, None with fewer than 2 beats.
        activations: (T, 2) [beat, downbeat] probabilities at ``fps`` that were decoded.
        fps: frame rate of ``activations`` (frames per second).
        confidence: how sure the engine is that the recording has a beat, in [0, 1] (None for
            engines that do not say); below the engine's threshold it reports no beats.
        subdivision: pulses per beat: 2 in a simple meter (2/4, 3/4, 4/4), 3 in a compound one
            (6/8, 9/8, 12/8, whose beats are dotted quarters).
    """

    beats: np.ndarray
    positions: np.ndarray
    beats_per_bar: int
    bpm: float | None
    activations: np.ndarray
    fps: float = FPS
    confidence: float | None = None
    subdivision: int = 2

    @property
    def time_signature(self) -> str | None:
        """:func:`time_signature` of the meter; None without one."""
        return time_signature(self.beats_per_bar, self.subdivision) if self.beats_per_bar else None

    @property
    def downbeats(self) -> np.ndarray:
        """(M,) times of the beats at position 1."""
        return self.beats[self.positions == 1]


@dataclass
class StructureResult:
    """What a structure engine (``analyze -m``) finds: beats and labelled sections.

    Attributes:
        beats: the beats, downbeats and meter.
        segments: sections tiling [0, duration], labels from ``HARMONIX_LABELS``.
        activations: allin1's frame curves at 100 fps: ``beat``, ``downbeat``, ``segment`` (T,)
            and ``label`` (10, T).
        embeddings: frame embeddings, (stems, T, D) for one model or (stems, T, D, models) for an
            ensemble; None for engines without any (the classic one).
        features: the engine's intermediate arrays, kept on request (``-k``), name -> array.
    """

    beats: BeatResult
    segments: list[Segment]
    activations: dict[str, np.ndarray]
    embeddings: np.ndarray | None = None
    features: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class KeyResult:
    """A key estimate, from any key engine.

    Attributes:
        key: e.g. ``"F# minor"`` (mir_eval spelling); None for models that only know the
            key signature (12-class STONE).
        key_signature: the relative pair, e.g. ``"A major/F# minor"``.
        mode: ``"major"`` / ``"minor"`` (None with ``key``).
        confidence: probability of the answer, in [0, 1].
        model: the engine that produced it (``classic``, a registry name or a checkpoint path).
        labels: the labels ``scores`` is indexed by (keys or key signatures).
        scores: (len(labels),) mean output probabilities (neural models) or template
            correlations (classic engine).
        clarity: best template correlation of the classic engine (Krumhansl's key clarity):
            under 0.5 the audio carries little tonal evidence; None for neural models.
        tuning: deviation from A440 in semitones (classic engine), else None.
        method: how the classic engine computed it, else None.
        window_starts: (n,) start of each analysis window (s), window_labels: the label of
            each (neural models), else None.
    """

    key: str | None
    key_signature: str
    mode: str | None
    confidence: float
    model: str
    labels: tuple[str, ...]
    scores: np.ndarray = field(repr=False)
    clarity: float | None = None
    tuning: float | None = None
    method: str | None = None
    window_starts: np.ndarray | None = field(default=None, repr=False)
    window_labels: list[str] | None = field(default=None, repr=False)

    @property
    def index(self) -> int:
        """Index of the winning label in ``labels``."""
        return int(np.argmax(self.scores))

    def to_dict(self, per_window: bool = False) -> dict[str, Any]:
        """JSON-ready dict; ``per_window`` adds the window labels when the engine has windows."""
        out: dict[str, Any] = {"key": self.key, "key_signature": self.key_signature, "mode": self.mode,
                               "confidence": round(float(self.confidence), 4), "model": self.model}
        for name in ("clarity", "tuning"):
            value = getattr(self, name)
            if value is not None:
                out[name] = round(float(value), 4)
        if self.method is not None:
            out["method"] = self.method
        if per_window and self.window_starts is not None and self.window_labels is not None:
            out["windows"] = [{"start": round(float(s), 3), "label": lab}
                              for s, lab in zip(self.window_starts, self.window_labels)]
        return out


@dataclass
class Stems:
    """Separated stems of one recording.

    Attributes:
        sources: stem name -> (channels, N) float32 samples, in the engine's stem order (empty
            when the stems were turned into ``features`` as they were separated).
        sample_rate: Hz.
        model: the separation engine that produced them.
        features: frame features an engine computed from the stems while they streamed out of
            the separator (``analyze --demix`` for engines with a ``stem_sink``), by the
            engine's key, for instance the All-In-One (4, T, 81) log spectrograms.
    """

    sources: dict[str, np.ndarray]
    sample_rate: int
    model: str
    features: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class CoverEmbedding:
    """A recording's version fingerprint (what a ``covers`` engine predicts).

    Attributes:
        vector: (D,) float32, unit length: recordings of the same work lie close in cosine distance.
        model: the engine that produced it (``classic``, a registry name or a checkpoint path).
        frames: (T, D) per-chunk embeddings when the engine embeds chunks and pools them, else None.
        sequence: (N, F) float32 frames that the engine's re-ranker aligns (the classic engine's
            beat-synchronous chroma, (beats, 12)), else None.
    """

    vector: np.ndarray
    model: str
    frames: np.ndarray | None = field(default=None, repr=False)
    sequence: np.ndarray | None = field(default=None, repr=False)


@dataclass
class CoverMatch:
    """One reference recording found for a query.

    Attributes:
        path: the reference recording. work: its work id. distance: cosine distance to the query
            (after re-ranking, the re-ranker's distance, e.g. Qmax's ``sqrt(beats) / Qmax``).
        confidence: probability that query and reference are versions of one work, from the
            store's calibration (None when the store was not calibrated).
    """

    path: str
    work: str
    distance: float
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"path", "work", "distance", "confidence"}``; confidence is None (JSON null) when uncalibrated."""
        return {"path": self.path, "work": self.work, "distance": round(float(self.distance), 6),
                "confidence": None if self.confidence is None else round(float(self.confidence), 4)}


@dataclass
class Identification:
    """The ranked references of one query, best first."""

    query: str
    matches: list[CoverMatch]

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "matches": [m.to_dict() for m in self.matches]}


@dataclass
class AnalysisResult:
    """What ``analyze`` finds in one recording (allin1's ``AnalysisResult`` plus extras).

    Attributes:
        path: the input file.
        bpm: tempo, rounded to an integer as allin1 reports it (None without beats).
        beats: beat times (s). downbeats: downbeat times (s).
        beat_positions: position of every beat in its bar, 1 = downbeat.
        segments: sections tiling the track, labels from ``HARMONIX_LABELS``.
        key, key_signature, key_confidence: key estimate ("C major"), its relative
            pair ("C major/A minor") and a confidence in [0, 1].
        time_signature: "4/4", "3/4", "6/8", ... (:attr:`BeatResult.time_signature`).
        beat_confidence: the beat engine's confidence in [0, 1] that the recording has a beat
            (None when the engine gives none; absent from allin1's JSON).
        duration: track length (s).
        engine: which engine produced the result. songscope_version: package version.
        activations: optional arrays (``beat``, ``downbeat``, ``segment`` (T,) and
            ``label`` (10, T) at 100 fps); not part of the JSON.
        embeddings: optional array; not part of the JSON.
    """

    path: str
    bpm: int | None
    beats: list[float]
    downbeats: list[float]
    beat_positions: list[int]
    segments: list[Segment]
    key: str | None = None
    key_signature: str | None = None
    key_confidence: float | None = None
    time_signature: str | None = None
    duration: float | None = None
    engine: str = "classic"
    songscope_version: str = __version__
    activations: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)
    embeddings: np.ndarray | None = field(default=None, repr=False, compare=False)
    beat_confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: allin1's fields first, then songscope's."""
        return {
            "path": str(self.path),
            "bpm": self.bpm,
            "beats": [round(float(t), 4) for t in self.beats],
            "downbeats": [round(float(t), 4) for t in self.downbeats],
            "beat_positions": [int(p) for p in self.beat_positions],
            "segments": [s.to_dict() for s in self.segments],
            "key": self.key,
            "key_signature": self.key_signature,
            "key_confidence": None if self.key_confidence is None else round(float(self.key_confidence), 4),
            "time_signature": self.time_signature,
            "beat_confidence": None if self.beat_confidence is None else round(float(self.beat_confidence), 4),
            "duration": None if self.duration is None else round(float(self.duration), 4),
            "engine": self.engine,
            "songscope_version": self.songscope_version,
        }

    @classmethod
    def compose(cls, path: str | Path, duration: float, structure: StructureResult, key: KeyResult | None,
                engine: str, activations: bool = False, embeddings: bool = False) -> "AnalysisResult":
        """One recording's result from the parts the engines computed.

        Values are rounded to the precision the JSON keeps, so a written result reads back equal;
        ``activations`` / ``embeddings`` attach the structure engine's arrays.
        """
        beats = structure.beats
        return cls(
            path=str(path), bpm=None if beats.bpm is None else int(round(beats.bpm)),
            beats=np.round(beats.beats, 4).tolist(), downbeats=np.round(beats.downbeats, 4).tolist(),
            beat_positions=np.asarray(beats.positions, dtype=int).tolist(),
            segments=[Segment(round(float(s.start), 4), round(float(s.end), 4), s.label) for s in structure.segments],
            key=key.key if key else None, key_signature=key.key_signature if key else None,
            key_confidence=round(float(key.confidence), 4) if key else None,
            time_signature=beats.time_signature,
            beat_confidence=None if beats.confidence is None else round(float(beats.confidence), 4),
            duration=round(float(duration), 4), engine=engine,
            activations=structure.activations if activations else None,
            embeddings=structure.embeddings if embeddings else None,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnalysisResult":
        """Inverse of :meth:`to_dict`; accepts allin1's JSON (extra fields absent)."""
        missing = [k for k in ALLIN1_FIELDS if k not in data]
        if missing:
            raise InputError(f"not an analysis result: missing {', '.join(missing)}")
        segments = [Segment(float(s["start"]), float(s["end"]), str(s["label"])) for s in data["segments"]]
        extras = {k: data[k] for k in ("key", "key_signature", "key_confidence", "time_signature",
                                       "beat_confidence", "duration", "engine", "songscope_version") if k in data}
        return cls(path=str(data["path"]), bpm=data["bpm"], beats=[float(t) for t in data["beats"]],
                   downbeats=[float(t) for t in data["downbeats"]],
                   beat_positions=[int(p) for p in data["beat_positions"]], segments=segments, **extras)


def save_result(result: AnalysisResult, path: str | Path) -> Path:
    """Write ``result`` as JSON (atomically)."""
    return write_text(path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")


def load_result(path: str | Path) -> AnalysisResult:
    """Read a result JSON written by songscope or allin1."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON result ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not an analysis result")
    return AnalysisResult.from_dict(data)


def result_to_jams(result: AnalysisResult) -> dict[str, Any]:
    """A JAMS document (dict) with beat, segment_open, key_mode and tempo annotations."""
    duration = float(result.duration or (result.segments[-1].end if result.segments else 0.0))
    meta = {"annotator": {"name": "songscope", "engine": result.engine},
            "version": result.songscope_version, "corpus": "", "annotation_tools": "songscope",
            "annotation_rules": "", "validation": "", "data_source": "songscope analyze", "curator": {}}

    def annotation(namespace: str, data: list[dict[str, Any]]) -> dict[str, Any]:
        return {"namespace": namespace, "data": data, "annotation_metadata": meta,
                "sandbox": {}, "time": 0, "duration": duration}

    beats = list(result.beats) + [duration]
    annotations = [
        annotation("beat", [{"time": float(t), "duration": 0.0, "value": int(p), "confidence": None}
                            for t, p in zip(result.beats, result.beat_positions)]),
        annotation("segment_open", [{"time": s.start, "duration": s.end - s.start, "value": s.label,
                                     "confidence": None} for s in result.segments]),
    ]
    if result.bpm:
        span = beats[-1] - beats[0] if len(beats) > 1 else duration
        annotations.append(annotation("tempo", [{"time": 0.0, "duration": float(span),
                                                 "value": float(result.bpm), "confidence": 1.0}]))
    if result.key:
        tonic, mode = result.key.split()
        annotations.append(annotation("key_mode", [{"time": 0.0, "duration": duration,
                                                    "value": f"{tonic}:{mode}",
                                                    "confidence": result.key_confidence}]))
    return {"annotations": annotations,
            "file_metadata": {"title": Path(result.path).stem, "artist": "", "release": "",
                              "duration": duration, "identifiers": {}, "jams_version": "0.3.4"},
            "sandbox": {"songscope": {"time_signature": result.time_signature, "key_signature": result.key_signature}}}


def save_jams(result: AnalysisResult, path: str | Path) -> Path:
    """Write the JAMS document of ``result`` (atomically)."""
    return write_text(path, json.dumps(result_to_jams(result), indent=1) + "\n")


def save_audacity_labels(result: AnalysisResult, path: str | Path) -> Path:
    """Write an Audacity label track: one ``start<TAB>end<TAB>label`` line per section,
    then a point label per beat (``1.1``, ``1.2``, ... = bar.beat)."""
    lines = [f"{s.start:.6f}\t{s.end:.6f}\t{s.label}" for s in result.segments]
    bar = 0
    for t, p in zip(result.beats, result.beat_positions):
        bar += int(p == 1)
        lines.append(f"{t:.6f}\t{t:.6f}\t{max(bar, 1)}.{p}")
    return write_text(path, "\n".join(lines) + "\n")
