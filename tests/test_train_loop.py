"""The shared training loop on a model small enough to reason about: the optimiser the config
names, gradient accumulation equal to a larger batch, batches read by DataLoader workers equal to
batches read in the main process."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from songscope.models.converters import read_checkpoint  # noqa: E402
from songscope.train import TrainConfig  # noqa: E402
from songscope.train.loop import train_loop  # noqa: E402

WEIGHTS = torch.tensor([[1.5, -2.0, 0.5]])


class Regression:
    """``data[i]``: ``size`` examples of y = x . w + 0.1 noise, the same for the same ``i``."""

    def __init__(self, size: int):
        self.size = size

    def __getitem__(self, index: int):
        generator = torch.Generator().manual_seed(index)
        x = torch.randn(self.size, 3, generator=generator)
        return x, x @ WEIGHTS.T + 0.1 * torch.randn(self.size, 1, generator=generator)


class Halves:
    """Batch ``i`` of :class:`Regression` with ``size`` examples, served as two halves."""

    def __init__(self, size: int):
        self.whole = Regression(size)

    def __getitem__(self, index: int):
        x, y = self.whole[index // 2]
        half = slice(0, len(x) // 2) if index % 2 == 0 else slice(len(x) // 2, None)
        return x[half], y[half]


def _loss(model, batch):
    x, y = batch
    value = torch.nn.functional.mse_loss(model(x), y)
    return value, {"mse": value.item()}


def _run(tmp_path, name, data, **settings):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    config = TrainConfig(**{"steps": 30, "lr": 0.05, "warmup": 0, "val_every": 10, "grad_clip": None,
                            "out_dir": str(tmp_path / name), **settings})
    result = train_loop(model, data, _loss, lambda m: {"loss": _loss(m, Regression(64)[10 ** 6])[0].item()},
                        config, "toy", {"inputs": 3})
    return model, result


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_every_optimiser_fits_the_regression(tmp_path, optimizer):
    model, result = _run(tmp_path, optimizer, Regression(16), optimizer=optimizer, weight_decay=0.0, steps=150, lr=0.1)
    assert torch.allclose(model.weight.detach(), WEIGHTS, atol=0.15), model.weight
    assert result.best_loss < 0.05
    assert read_checkpoint(tmp_path / optimizer / "last.pt").training["optimizer"]["param_groups"][0]["lr"] > 0


def test_accumulating_two_halves_equals_one_whole_batch(tmp_path):
    whole, _ = _run(tmp_path, "whole", Regression(16))
    halves, _ = _run(tmp_path, "halves", Halves(16), accumulate=2)
    assert torch.allclose(whole.weight, halves.weight, atol=1e-6) and torch.allclose(whole.bias, halves.bias, atol=1e-6)


def test_worker_processes_read_the_same_batches(tmp_path):
    main, _ = _run(tmp_path, "main", Regression(16))
    workers, _ = _run(tmp_path, "workers", Regression(16), workers=2)
    assert torch.equal(main.weight, workers.weight) and torch.equal(main.bias, workers.bias)


def test_learning_rate_schedules(tmp_path):
    from songscope.train.loop import lr_schedule

    exponential = lr_schedule(TrainConfig(steps=100, lr=1e-2, warmup=2, schedule="exponential", lr_decay=0.5,
                                        decay_every=10, min_lr=1e-3))
    assert [exponential(s) for s in (0, 1, 2, 11, 12, 22, 40, 99)] == [0.5, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125, 0.1]
    cosine = lr_schedule(TrainConfig(steps=100, warmup=0))
    assert cosine(0) == 1.0 and cosine(50) == pytest.approx(0.505) and cosine(100) == pytest.approx(0.01)
    assert lr_schedule(TrainConfig(schedule="constant", warmup=0))(500) == 1.0


def test_exponential_decay_holds_the_peak_rate_first():
    from songscope.train.loop import lr_schedule

    held = lr_schedule(TrainConfig(steps=100, warmup=0, schedule="exponential", lr_decay=0.5, decay_every=10, hold=20))
    assert [held(s) for s in (0, 19, 20, 29, 30, 40)] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.25]


def test_a_run_that_stopped_early_stays_stopped(tmp_path):
    _, first = _run(tmp_path, "stop", Regression(16), lr=0.0, patience=1, steps=100)
    assert first.stopped_early and first.step == 20
    _, again = _run(tmp_path, "stop", Regression(16), lr=0.0, patience=1, steps=100)
    assert again.stopped_early and again.step == 20 and again.best_step == first.best_step
