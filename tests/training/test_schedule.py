"""The cosine and linear schedules: the rate as a pure function of the run's progress, and resumed runs continuing
it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from scriptgen import Config
from scriptgen.config import SCHEDULE_BEFORE, with_absent_fields
from scriptgen.errors import ScriptgenError
from scriptgen.training.schedule import TimedSchedule, rate_factor, run_progress
from scriptgen.training.steps import make_scheduler


def test_the_rate_runs_from_the_floor_through_lr_to_the_floor():
    floor = 0.01
    assert rate_factor("cosine", 0.0) == 1.0 and rate_factor("cosine", 1.0, floor=floor) == pytest.approx(floor)
    assert rate_factor("cosine", 0.5, floor=floor) == pytest.approx((1 + floor) / 2)
    assert rate_factor("linear", 0.25, floor=0.0) == pytest.approx(0.75)
    assert rate_factor("linear", 1.0, floor=floor) == pytest.approx(floor)
    # warm-up: from the floor up to 1 over the first share, then the decay over the rest
    assert rate_factor("cosine", 0.0, 0.1, floor) == pytest.approx(floor)
    assert rate_factor("cosine", 0.05, 0.1, floor) == pytest.approx(floor + (1 - floor) * 0.5)
    assert rate_factor("cosine", 0.1, 0.1, floor) == pytest.approx(1.0)
    assert rate_factor("cosine", 0.55, 0.1, floor) == pytest.approx((1 + floor) / 2)
    assert rate_factor("linear", 2.0, 0.1, floor) == pytest.approx(floor)  # past the end: the floor
    xs = [i / 100 for i in range(101)]
    cos = [rate_factor("cosine", x, 0.0, floor) for x in xs]
    assert all(a >= b for a, b in zip(cos, cos[1:]))


def test_progress_is_the_larger_share_of_the_budget_and_of_the_planned_steps():
    assert run_progress(0, 100, 0.0, 0.0) == 0.0
    assert run_progress(99, 100, 5.0, 0.0) == 1.0  # the last planned step takes the floor
    assert run_progress(10, 100, 30.0, 60.0) == pytest.approx(0.5)  # the time budget half spent
    assert run_progress(80, 100, 30.0, 60.0) == pytest.approx(80 / 99)  # the epochs end first
    assert run_progress(10, 100, 90.0, 60.0) == 1.0
    assert run_progress(0, 1, 0.0, 0.0) == 1.0


def test_a_time_based_schedule_reaches_the_floor_when_the_budget_ends_and_saves_its_state():
    model = nn.Linear(2, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    cfg = Config(schedule="cosine", lr=0.01, lr_floor=0.05, warmup=0.1, max_minutes=2.0)
    schedule = make_scheduler(optimizer, cfg, planned_steps=10**6)
    assert isinstance(schedule, TimedSchedule)
    assert schedule.before_step(0, 0.0) == pytest.approx(0.01 * 0.05)  # warm-up starts at the floor
    assert schedule.before_step(5, 12.0) == pytest.approx(0.01)  # the warm-up ends at 10% of 120 s
    assert schedule.before_step(9, 66.0) == pytest.approx(0.01 * (1 + 0.05) / 2)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * (1 + 0.05) / 2)
    assert schedule.before_step(10, 120.0) == pytest.approx(0.01 * 0.05)
    assert schedule.before_step(11, 500.0) == pytest.approx(0.01 * 0.05)
    saved = json.loads(json.dumps(schedule.state_dict()))
    again = make_scheduler(torch.optim.Adam(model.parameters(), lr=0.01), cfg, planned_steps=10**6)
    from scriptgen.training.trainstate import TrainState, _restore_scheduler

    _restore_scheduler(again, saved, TrainState(), Path("trainer.json"))
    assert again.progress == 1.0 and again.state_dict() == schedule.state_dict()
    with pytest.raises(ScriptgenError, match="cosine schedule"):
        _restore_scheduler(again, {"schedule": "linear", "progress": 0.5}, TrainState(), Path("trainer.json"))
    with pytest.raises(ScriptgenError, match="cosine schedule"):
        _restore_scheduler(again, {"schedule": "cosine", "progress": "x"}, TrainState(), Path("trainer.json"))


def test_plateau_stays_the_default_and_configs_without_the_fields_load_as_plateau():
    assert Config().schedule == "plateau"
    old = Config().to_dict()
    for name in SCHEDULE_BEFORE:
        del old[name]
    assert {k: with_absent_fields(old)[k] for k in SCHEDULE_BEFORE} == SCHEDULE_BEFORE
    plateau = make_scheduler(torch.optim.Adam(nn.Linear(1, 1).parameters(), lr=0.004), Config(lr=0.004, lr_floor=0.25))
    assert isinstance(plateau, torch.optim.lr_scheduler.ReduceLROnPlateau) and plateau.min_lrs == [0.001]
    for bad in (dict(schedule="step"), dict(warmup=0.6), dict(warmup=-0.1), dict(lr_floor=1.5)):
        with pytest.raises(ScriptgenError):
            Config(**bad).validate()


def interrupted_at(folder, cfg, corpus_dir, data_dir, step: int) -> None:
    """Train ``cfg`` into ``folder``, stopping (as Ctrl-C would) after the validation at ``step``."""
    from scriptgen.training.train import Trainer

    trainer = None

    def stop_there(history, sample):
        if history[-1]["step"] == step:
            trainer.stop.set()

    trainer = Trainer(cfg, folder, corpus_dir, data_dir, progress=False, log=lambda m: None, on_validation=stop_there)
    assert trainer.run().stop_reason == "interrupted"


@pytest.mark.slow
def test_a_step_based_schedule_resumes_bitwise_and_ends_at_the_floor(corpus_dir, tmp_path, tiny_config):
    """2 epochs in one go == 1 epoch, stopped, resumed to 2; with averaged weights and dropout on top."""
    kind = "cosine"
    from safetensors.torch import load_file

    from scriptgen import train
    from scriptgen.training.train import Trainer

    cfg = tiny_config.replace(
        epochs=2, schedule=kind, warmup=0.2, lr_floor=0.02, ema_decay=0.9, dropout=0.1, precision="fp32"
    )
    quiet = dict(data=corpus_dir, out_dir=tmp_path, data_dir=tmp_path / "data", progress=False, log=lambda m: None)
    whole = train(cfg, name="whole", **quiet)
    per_epoch = next(r["step"] for r in whole.history if r["epoch"] == 1.0)
    interrupted_at(tmp_path / "split", cfg, corpus_dir, tmp_path / "data", per_epoch)
    resumed = Trainer(cfg, tmp_path / "split", corpus_dir, tmp_path / "data", resume=True, explicit=set(),
                      progress=False, log=lambda m: None).run()  # fmt: skip
    assert resumed.steps == whole.steps and resumed.stop_reason == "epochs"
    for file in ("model.safetensors", "trainer.safetensors"):
        a, b = load_file(tmp_path / "whole" / file), load_file(tmp_path / "split" / file)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), file
    # the rate of each recorded step is the schedule's; the last step took the floor
    rates = [r["lr"] for r in whole.history]
    for row in whole.history:
        progress = run_progress(row["step"] - 1, whole.steps, 0.0, 0.0)
        assert row["lr"] == pytest.approx(cfg.lr * rate_factor(kind, progress, 0.2, 0.02))
    assert rates[-1] == pytest.approx(cfg.lr * 0.02) and max(rates) > rates[-1]
    saved = json.loads((tmp_path / "split" / "trainer.json").read_text())
    assert saved["scheduler"]["schedule"] == kind and saved["scheduler"]["progress"] == 1.0
    assert saved["param_groups"][0]["lr"] == pytest.approx(cfg.lr * 0.02)
    assert math.isfinite(whole.best_val_loss)
