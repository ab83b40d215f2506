"""--weight-decay: AdamW on the matrices and embeddings, plain Adam on the biases, checked against torch's own
unfused AdamW and Adam; plain Adam (one group, as older checkpoints saved it) when it is 0."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from scriptgen import Config
from scriptgen.config import REGULARIZERS_OFF, with_absent_fields
from scriptgen.errors import ScriptgenError
from scriptgen.training.steps import make_adam


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 4)
        self.lstm = nn.LSTM(4, 6)
        self.out = nn.Linear(6, 11)

    def loss(self, ids):
        h, _ = self.lstm(self.embed(ids))
        return nn.functional.cross_entropy(self.out(h).flatten(0, 1), ids.roll(-1, 0).flatten())


def steps(model, optimizer, n=3):
    ids = torch.randint(0, 11, (7, 2), generator=torch.Generator().manual_seed(3))
    for _ in range(n):
        optimizer.zero_grad()
        model.loss(ids).backward()
        optimizer.step()


def test_matrices_step_as_adamw_and_biases_as_adam():
    torch.manual_seed(0)
    ours, reference = Tiny(), None
    reference = copy.deepcopy(ours)
    lr, wd = 0.01, 0.3
    steps(ours, make_adam(ours.parameters(), lr, weight_decay=wd))
    matrices = [p for p in reference.parameters() if p.dim() >= 2]
    biases = [p for p in reference.parameters() if p.dim() < 2]
    trusted = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": wd}, {"params": biases, "weight_decay": 0.0}], lr=lr, foreach=False
    )
    steps(reference, trusted)
    for (name, a), b in zip(ours.named_parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    # and the decay did something: the same steps without it end elsewhere
    torch.manual_seed(0)
    plain = Tiny()
    steps(plain, make_adam(plain.parameters(), lr))
    assert not torch.allclose(plain.out.weight, ours.out.weight, atol=1e-4)
    torch.testing.assert_close(plain.out.bias, ours.out.bias, rtol=0, atol=5e-3)  # biases only feel it indirectly


def test_no_decay_is_one_group_of_plain_adam_and_old_configs_load_without_decay():
    optimizer = make_adam(Tiny().parameters(), 0.003)
    assert type(optimizer) is torch.optim.Adam and len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["weight_decay"] == 0
    decayed = make_adam(Tiny().parameters(), 0.003, weight_decay=0.1)
    assert isinstance(decayed, torch.optim.AdamW) and [g["weight_decay"] for g in decayed.param_groups] == [0.1, 0.0]
    old = Config().to_dict()
    del old["weight_decay"]
    assert with_absent_fields(old)["weight_decay"] == REGULARIZERS_OFF["weight_decay"] == 0.0  # plain Adam
    for bad in (-0.1, 1.5, float("nan"), float("inf")):
        with pytest.raises(ScriptgenError, match="--weight-decay"):
            Config(weight_decay=bad).validate()


def test_a_run_with_decay_records_it_and_resume_keeps_it(corpus_dir, tmp_path, tiny_config):
    import json

    from scriptgen import train
    from scriptgen.training.train import Trainer

    cfg = tiny_config.replace(epochs=1, weight_decay=0.1, precision="fp32")
    quiet = dict(data=corpus_dir, out_dir=tmp_path, data_dir=tmp_path / "data", progress=False, log=lambda m: None)
    result = train(cfg, name="wd", **quiet)
    assert result.steps > 0
    assert json.loads((tmp_path / "wd" / "config.json").read_text())["config"]["weight_decay"] == 0.1
    groups = json.loads((tmp_path / "wd" / "trainer.json").read_text())["param_groups"]
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    # resumed to a second epoch: the two groups' moments load (in the optimizer's order, not the model's)
    resumed = Trainer(cfg.replace(epochs=2), tmp_path / "wd", corpus_dir, tmp_path / "data", resume=True,
                      explicit={"epochs"}, progress=False, log=lambda m: None).run()  # fmt: skip
    assert resumed.steps == 2 * result.steps and resumed.stop_reason == "epochs"
    with pytest.raises(ScriptgenError, match="--weight-decay 0.0"):
        Trainer(cfg.replace(weight_decay=0.0), tmp_path / "wd", corpus_dir, tmp_path / "data", resume=True,
                explicit={"weight_decay"}, progress=False, log=lambda m: None)  # fmt: skip
