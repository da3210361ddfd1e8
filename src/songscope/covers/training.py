"""Training CoverHunter through songscope's shared loop, the way CoverHunterMPS's trainer does.

Data: CoverHunterMPS's lists (``train.txt``, ``val.txt``, ... with ``perf``, ``work_id``,
``feat``, ``feat_len``), as ``songscope covers features`` writes them.

- Batches (:class:`WorkBatches`): ``batch_size / m_per_class`` works drawn at random, then
  ``m_per_class`` of each work's lines (a work with fewer lines repeats them, as their sampler
  does); each line gives a chunk of ``chunk_frame[k] * mean_size`` feature frames from a random
  start (``mode: random``; the line's ``start`` with ``mode: defined``), padded with -100 dB and
  averaged over ``mean_size`` frames, then ``spec_augmentation`` (:func:`roll_pitch`, then
  :func:`random_erase`). An epoch (:func:`~songscope.covers.train_config.steps_per_epoch`) visits
  each ``chunk_frame`` length once per batch index, in a random order, as their trainer zips one
  loader per length. Batch ``i`` depends only on (``seed``, ``i``), so a resumed run reads the
  batches an uninterrupted one would.
- Loss: focal on the bottleneck's logits, plus triplet (above weight 0.01) and center (above 0)
  (:meth:`~songscope.covers.model.CoverHunterNet.losses`).
- Validation (:class:`Validation`): ``loss`` is the mean focal loss over ``val_path`` (their
  ``csi_val/foc_loss``; each line's chunk of ``chunk_frame[0] * mean_size`` frames from a start
  fixed once), ``test_loss`` the same over ``test_path``; for every test set (``query_path`` /
  ``ref_path``), ``mAP_<name>``, ``MR1_<name>`` and ``P@10_<name>``: each recording cut into
  consecutive chunks of ``chunk_frame[0] * mean_size`` frames, two recordings' distance the
  smallest cosine distance between their chunks' embeddings, a query never ranked against itself
  (their ``eval_for_map_with_feat``).
- Output: the loop's ``metrics.csv``, TensorBoard, ``last.pt`` / ``best.pt`` (resume), and
  ``<out_dir>/model.pt``: the best validation loss's weights as a ``coverhunter`` model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ..errors import ConfigError, InputError
from ..evaluate.metrics import ranking_metrics
from ..models.container import Checkpoint, save_checkpoint
from ..train.loop import TrainResult, best_state, train_loop
from .config import CoverHunterConfig
from .dataset import read_list
from .embedding import unit_embeddings
from .features import chunk_features, mean_pool
from .model import CoverHunterNet
from .train_config import CoverHunterTrainConfig, SpecAugment, steps_per_epoch

__all__ = ["Item", "Validation", "WorkBatches", "chunk_starts", "export_model", "fit", "load_testsets", "random_erase",
           "read_items", "read_lists", "roll_pitch", "testset_metrics", "time_stretch", "train_coverhunter"]

_ERASE_FLOOR_DB = -128.0
_VAL_STREAM, _ORDER_STREAM = 7, 11


@dataclass(frozen=True)
class Item:
    """A line of a list: its ``perf``, ``work_id``, feature file, frames (``feat_len``), fixed
    ``start`` frame (``mode: defined``) and duration in seconds (``dur_s``, else from the frames)."""

    perf: str
    work_id: int
    feat: str
    frames: int
    start: int
    seconds: float


def _feature_path(value: str, folder: Path) -> str:
    """A ``feat`` path as written (absolute or from the working folder), else found beside the
    list (``<list folder>/<feature folder>/<file>``, the layout ``covers features`` writes)."""
    path = Path(value)
    if path.exists():
        return str(path)
    beside = folder / path.parent.name / path.name
    if beside.exists():
        return str(beside)
    raise InputError(f"{value}: no such feature file (nor {beside})")


def read_items(path: str | Path, hop_seconds: float = 0.04) -> list[Item]:
    """The lines of a CoverHunterMPS list as :class:`Item`.

    Raises:
        InputError: a missing list, a line without ``perf``, ``work_id`` or ``feat``, a missing
            feature file.
    """
    path = Path(path)
    items = []
    for number, row in enumerate(read_list(path), 1):
        missing = [k for k in ("perf", "work_id", "feat") if k not in row]
        if missing:
            raise InputError(f"{path}: line {number} has no {missing[0]!r} (songscope covers features writes it)")
        feat = _feature_path(str(row["feat"]), path.parent)
        frames = int(row["feat_len"]) if "feat_len" in row else int(np.load(feat, mmap_mode="r").shape[0])
        seconds = float(row["dur_s"]) if "dur_s" in row else \
            float(row["dur_ms"]) / 1000.0 if "dur_ms" in row else frames * hop_seconds
        items.append(Item(str(row["perf"]), int(row["work_id"]), feat, frames, int(row.get("start", 0)), seconds))
    if not items:
        raise InputError(f"{path}: lists no performances")
    return items


def roll_pitch(features: np.ndarray, shift_num: int, rng: np.random.Generator, method: str = "default") -> np.ndarray:
    """CoverHunter's pitch roll: the bins of ``features`` (T, F) rotated by -``shift_num``, 0 or
    +``shift_num`` (equally likely; ``method="uniform"``: by any whole number of bins from
    -``shift_num`` to +``shift_num``, equally likely), wrapping around. Returns a new (T, F) array."""
    shift = int(rng.integers(-shift_num, shift_num + 1)) if method == "uniform" else \
        int(rng.integers(-1, 2)) * shift_num
    return np.roll(features, shift, axis=1)


def time_stretch(features: np.ndarray, frames: int) -> np.ndarray:
    """``features`` (T, F) resampled to ``frames`` frames (frame centres spread evenly, linear
    interpolation between neighbours): a tempo change by T / ``frames``. Returns (frames, F) float32."""
    source = len(features)
    at = np.clip((np.arange(frames) + 0.5) * source / frames - 0.5, 0.0, source - 1.0)
    left = np.floor(at).astype(int)
    right = np.minimum(left + 1, source - 1)
    weight = (at - left)[:, None]
    return ((1.0 - weight) * features[left] + weight * features[right]).astype(np.float32)


def random_erase(features: np.ndarray, count: int, region: tuple[float, float],
                 rng: np.random.Generator) -> np.ndarray:
    """CoverHunter's random erase: ``count`` blocks of ``int(T * region[0])`` frames by
    ``int(F * region[1])`` bins, each at a uniformly random place inside ``features`` (T, F), set
    to one level drawn uniformly from (-128, 0] dB. Returns a new (T, F) array. (Their blocks are
    centred on the drawn place and vanish when they would cross the start; here they stay inside.)"""
    out = np.array(features, copy=True)
    frames, bins = out.shape
    width, height = int(frames * region[0]), int(bins * region[1])
    level = rng.random() * _ERASE_FLOOR_DB
    for _ in range(count):
        t, f = int(rng.integers(0, frames - width + 1)), int(rng.integers(0, bins - height + 1))
        out[t:t + width, f:f + height] = level
    return out


def _augmented(features: np.ndarray, aug: SpecAugment, rng: np.random.Generator) -> np.ndarray:
    """``spec_augmentation`` in their order: the pitch roll, then the erase, each with its probability."""
    if rng.random() < aug.roll_prob:
        features = roll_pitch(features, aug.shift_num, rng, aug.roll_method)
    if rng.random() < aug.erase_prob:
        features = random_erase(features, aug.erase_num, aug.region_size, rng)
    return features


def _chunk(item: Item, frames: int, start: int, mean_size: int, source: int | None = None) -> np.ndarray:
    """The network input (frames // mean_size, F) of ``frames`` feature frames from ``start``
    (``source`` frames from ``start`` resampled to ``frames``, when given: :func:`time_stretch`)."""
    features = chunk_features(np.load(item.feat, mmap_mode="r"), source or frames, start)
    return mean_pool(features if source is None else time_stretch(features, frames), mean_size)


def _stretched_frames(frames: int, aug: SpecAugment, rng: np.random.Generator) -> int | None:
    """Frames to read for a chunk of ``frames`` under ``time_stretch`` (None: no stretch); draws
    nothing when its probability is 0, so runs without it read the same random numbers."""
    if aug.stretch_prob <= 0 or rng.random() >= aug.stretch_prob:
        return None
    low, high = np.log(aug.stretch_range[0]), np.log(aug.stretch_range[1])
    return max(1, int(round(frames * float(np.exp(rng.uniform(low, high))))))


def _random_start(item: Item, frames: int, draw: float) -> int:
    """Their ``mode: random`` start: ``int(draw * (feat_len - frames))``, 0 for shorter lines."""
    return int(draw * (item.frames - frames)) if item.frames > frames else 0


class WorkBatches:
    """``batches[i]``: training batch ``i`` as ``(features (B, T_k, F) float32, work ids (B,) int64)``
    tensors (see the module docstring); deterministic in (``seed``, ``i``).

    Args:
        items: the training list. config: the hparams. aug: the parsed ``spec_augmentation``.
        seed: the run's seed.
    """

    def __init__(self, items: Sequence[Item], config: CoverHunterConfig, aug: SpecAugment, seed: int):
        self.items, self.config, self.aug, self.seed = list(items), config, aug, seed
        by_work: dict[int, list[int]] = {}
        for index, item in enumerate(self.items):
            by_work.setdefault(item.work_id, []).append(index)
        m = config.m_per_class
        self.works = {work: lines * math.ceil(m / len(lines)) for work, lines in by_work.items()}
        self.work_ids = sorted(self.works)
        self.epoch_steps = steps_per_epoch([item.work_id for item in self.items], config)

    def chunk_length(self, index: int) -> int:
        """Feature frames per line of batch ``index``: a ``chunk_frame`` length times ``mean_size``,
        each length once per batch index of an epoch, in an order drawn per batch index."""
        lengths = len(self.config.chunk_frame)
        epoch, within = divmod(index, self.epoch_steps)
        batch, position = divmod(within, lengths)
        order = np.random.default_rng([self.seed, _ORDER_STREAM, epoch, batch]).permutation(lengths)
        return self.config.chunk_frame[int(order[position])] * self.config.mean_size

    def lines(self, index: int) -> list[int]:
        """Indices into ``items`` of batch ``index``: ``m_per_class`` lines of each of
        ``batch_size / m_per_class`` distinct works."""
        rng = np.random.default_rng([self.seed, index])
        m = self.config.m_per_class
        works = rng.choice(len(self.work_ids), size=self.config.batch_size // m, replace=False)
        return [int(line) for w in works for line in rng.permutation(self.works[self.work_ids[int(w)]])[:m]]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        frames = self.chunk_length(index)
        rng = np.random.default_rng([self.seed, index, 1])
        inputs, labels = [], []
        for line in self.lines(index):
            item = self.items[line]
            draw = rng.random()
            source = _stretched_frames(frames, self.aug, rng)
            start = item.start if self.config.mode == "defined" else _random_start(item, source or frames, draw)
            inputs.append(_augmented(_chunk(item, frames, start, self.config.mean_size, source), self.aug, rng))
            labels.append(item.work_id)
        return torch.from_numpy(np.stack(inputs).astype(np.float32)), torch.tensor(labels, dtype=torch.long)


def chunk_starts(item: Item, config: CoverHunterConfig) -> list[int]:
    """Start frames of a recording's evaluation chunks: every ``chunk_frame[0] * mean_size``
    frames (``chunk_s`` seconds) while the chunk ends before ``dur_s``, and always the first
    (their ``_cut_one_line_with_dur``)."""
    frames = config.chunk_input_frames
    per_second = 1.0 / float(config.cqt.get("hop_size", 0.04))
    seconds = frames / per_second
    starts, at = [0], seconds
    while at + seconds < item.seconds:
        starts.append(int(at * per_second))
        at += seconds
    return starts


def _chunk_embeddings(net: CoverHunterNet, items: Sequence[Item], config: CoverHunterConfig,
                      batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings of every evaluation chunk (chunks, D) and the item each belongs to (chunks,)."""
    def inputs() -> Iterator[tuple[np.ndarray, int]]:
        for index, item in enumerate(items):
            for start in chunk_starts(item, config):
                yield _chunk(item, config.chunk_input_frames, start, config.mean_size), index

    vectors, owners, pending = [], [], []
    for chunk, owner in inputs():
        pending.append(chunk)
        owners.append(owner)
        if len(pending) == batch:
            vectors.append(unit_embeddings(net, np.stack(pending)))
            pending = []
    if pending:
        vectors.append(unit_embeddings(net, np.stack(pending)))
    return np.concatenate(vectors), np.asarray(owners)


def _group_min(values: np.ndarray, owners: np.ndarray, axis: int) -> np.ndarray:
    """Minimum of ``values`` over consecutive runs of equal ``owners`` along ``axis``."""
    firsts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    return np.minimum.reduceat(values, firsts, axis=axis)


def testset_metrics(net: CoverHunterNet, queries: Sequence[Item], refs: Sequence[Item] | None,
                    config: CoverHunterConfig, exclude: np.ndarray | None = None) -> dict[str, float]:
    """mAP, MR1 and P@10 of ``queries`` searched among ``refs`` (None: among the queries
    themselves, never a query against itself); ``exclude`` (queries, refs) marks other pairs left
    out (their ``query_in_ref``). Distances: the smallest cosine distance between chunks."""
    q_vectors, q_owner = _chunk_embeddings(net, queries, config, config.batch_size)
    if refs is None:
        refs, r_vectors, r_owner = queries, q_vectors, q_owner
        exclude = np.eye(len(queries), dtype=bool) if exclude is None else exclude | np.eye(len(queries), dtype=bool)
    else:
        r_vectors, r_owner = _chunk_embeddings(net, refs, config, config.batch_size)
    distances = _group_min(_group_min(1.0 - q_vectors @ r_vectors.T, q_owner, 0), r_owner, 1)
    return ranking_metrics(distances, [q.work_id for q in queries], [r.work_id for r in refs], exclude)


def _query_in_ref(path: str | None, queries: int, refs: int) -> np.ndarray | None:
    """Their ``query_in_ref`` file (first line ``{"query_in_ref": [[query, ref], ...]}``) as a mask."""
    if not path:
        return None
    rows = read_list(path)
    pairs = rows[0].get("query_in_ref") if rows else None
    if not isinstance(pairs, list):
        raise InputError(f"{path}: the first line needs a 'query_in_ref' list of [query, ref] index pairs")
    mask = np.zeros((queries, refs), dtype=bool)
    for pair in pairs:
        q, r = int(pair[0]), int(pair[1])
        if not (0 <= q < queries and 0 <= r < refs):
            raise InputError(f"{path}: pair {pair} is outside {queries} queries x {refs} references")
        mask[q, r] = True
    return mask


@dataclass
class _TestSet:
    queries: list[Item]
    refs: list[Item] | None
    exclude: np.ndarray | None


class Validation:
    """The loop's ``validate``: ``loss`` (mean focal loss over ``val_path``), ``test_loss`` (over
    ``test_path``, when both are set) and ``mAP_`` / ``MR1_`` / ``P@10_<name>`` per test set."""

    def __init__(self, config: CoverHunterConfig, val: Sequence[Item], test: Sequence[Item] | None,
                 testsets: dict[str, _TestSet], seed: int):
        self.config, self.testsets = config, testsets
        self.lists = {"loss": self._fixed(val, seed)}
        if test:
            self.lists["test_loss"] = self._fixed(test, seed)

    def _fixed(self, items: Sequence[Item], seed: int) -> list[tuple[Item, int]]:
        """Each line with the start of its validation chunk, drawn once."""
        frames = self.config.chunk_input_frames
        draws = np.random.default_rng([seed, _VAL_STREAM]).random(len(items))
        return [(item, item.start if self.config.mode == "defined" else _random_start(item, frames, u))
                for item, u in zip(items, draws)]

    def focal_loss(self, net: CoverHunterNet, lines: Sequence[tuple[Item, int]]) -> float:
        """Mean over batches of ``batch_size`` lines of the focal loss (their validation number)."""
        device = next(net.parameters()).device
        values = []
        for first in range(0, len(lines), self.config.batch_size):
            part = lines[first:first + self.config.batch_size]
            x = np.stack([_chunk(item, self.config.chunk_input_frames, start, self.config.mean_size)
                          for item, start in part])
            y = torch.tensor([item.work_id for item, _ in part], dtype=torch.long, device=device)
            values.append(net.losses(torch.from_numpy(x).to(device), y)[1]["foc_loss"].item())
        return float(np.mean(values))

    def __call__(self, net: CoverHunterNet) -> dict[str, float]:
        metrics = {name: self.focal_loss(net, lines) for name, lines in self.lists.items()}
        for name, testset in self.testsets.items():
            scores = testset_metrics(net, testset.queries, testset.refs, self.config, testset.exclude)
            metrics.update({f"{metric}_{name}": value for metric, value in scores.items()})
        return metrics


def load_testsets(config: CoverHunterConfig) -> dict[str, _TestSet]:
    """The hparams' test sets (``query_path``, ``ref_path``, optional ``query_in_ref_path``),
    their features located. The same file for both means a search among the queries.

    Raises:
        InputError: an unreadable list; ConfigError: a test set without both paths.
    """
    hop = float(config.cqt.get("hop_size", 0.04))
    out = {}
    for name, spec in config.testsets.items():
        if not spec.get("query_path") or not spec.get("ref_path"):
            raise ConfigError(f"test set {name!r} needs query_path and ref_path")
        queries = read_items(spec["query_path"], hop)
        same = Path(spec["query_path"]).resolve() == Path(spec["ref_path"]).resolve()
        refs = None if same else read_items(spec["ref_path"], hop)
        exclude = _query_in_ref(spec.get("query_in_ref_path"), len(queries), len(queries if same else refs))
        out[name] = _TestSet(queries, refs, exclude)
    return out


def _check_classes(config: CoverHunterConfig, *lists: Sequence[Item]) -> None:
    largest = max(item.work_id for items in lists for item in items)
    if largest >= config.foc.output_dims:
        raise ConfigError(f"work_id {largest} does not fit foc.output_dims = {config.foc.output_dims} classes; "
                          f"raise foc.output_dims above {largest}")


def fit(config: CoverHunterTrainConfig, train: Sequence[Item], val: Sequence[Item], test: Sequence[Item] | None = None,
        init: dict[str, torch.Tensor] | None = None, progress: bool = True) -> TrainResult:
    """Train on ``train``, validating on ``val`` (and ``test``) and the hparams' test sets.

    Args:
        config: the run (its ``train.out_dir`` holds the loop's files).
        init: weights to start from (a previous fold's, a foundation model's); a run that
            resumes from its ``last.pt`` starts from that instead.
        progress: a progress bar on stderr.

    Raises:
        ConfigError: work ids beyond ``foc.output_dims``, ``init`` of another shape, a bad setting.
        TrainingDiverged: the loss stopped being a finite number.
    """
    from ..device import select_device

    hparams, tc = config.hparams, config.train
    _check_classes(hparams, train, val, test or [])
    device = select_device(tc.device)
    torch.manual_seed(tc.seed)
    net = CoverHunterNet(hparams)
    if init is not None:
        try:
            net.load_state_dict(init)
        except RuntimeError as exc:
            raise ConfigError(f"the starting weights do not fit these hparams ({str(exc).splitlines()[0]})") from None
    net = net.to(device)
    data = WorkBatches(train, hparams, config.augment, tc.seed)
    validate = Validation(hparams, val, test, load_testsets(hparams), tc.seed)

    def loss(model: CoverHunterNet, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        total, parts = model.losses(batch[0].to(device), batch[1].to(device))
        return total, {name: value.item() for name, value in parts.items()}

    metadata = {"train_config": {"hparams": hparams.to_hparams(), "train": asdict(tc)},
                "steps_per_epoch": data.epoch_steps}
    return train_loop(net, data, loss, validate, tc, "coverhunter", hparams.to_hparams(), metadata, progress)


def export_model(result: TrainResult, config: CoverHunterTrainConfig, path: str | Path) -> Path:
    """Write the best checkpoint's weights of a run as a ``coverhunter`` model (loadable with
    ``songscope.models.load_engine("covers", path)``), with the best step and epoch."""
    from ..models.converters import read_checkpoint

    best = read_checkpoint(result.best_checkpoint)
    epoch_steps = best.metadata.get("steps_per_epoch")
    metadata = {**best.metadata, "best_step": result.best_step, "best_val_loss": result.best_loss,
                "best_epoch": result.best_step / epoch_steps if epoch_steps else None}
    return save_checkpoint(Checkpoint("coverhunter", config.hparams.to_hparams(), best_state(result),
                                      metadata=metadata), path)


def read_lists(config: CoverHunterConfig) -> tuple[list[Item], list[Item], list[Item] | None]:
    """The training list, the validation list (``val_path``, else ``test_path``) and the test
    list (``test_path`` when ``val_path`` is also set, else None).

    Raises:
        InputError: an unreadable list or a missing feature file.
    """
    hop = float(config.cqt.get("hop_size", 0.04))
    val = read_items(config.val_path or config.test_path, hop)
    test = read_items(config.test_path, hop) if config.val_path and config.test_path else None
    return read_items(config.train_path, hop), val, test


def train_coverhunter(config: CoverHunterTrainConfig, progress: bool = True) -> tuple[TrainResult, Path]:
    """Train CoverHunter on the config's lists; returns the loop's result and
    ``<out_dir>/model.pt`` (the best validation loss's weights)."""
    result = fit(config, *read_lists(config.hparams), progress=progress)
    return result, export_model(result, config, Path(config.train.out_dir) / "model.pt")

