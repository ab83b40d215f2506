"""The neural cache end to end: fitted when training ends, recorded, reported by evaluate, refitted, used by
generate."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from scriptgen import Config, evaluate_checkpoint, load_checkpoint, train
from scriptgen.cli import main

pytestmark = pytest.mark.slow


def run_cli(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    return out.getvalue()


def test_train_fits_the_cache_evaluate_reports_and_refits_it_generate_uses_it(corpus_dir, tmp_path, tiny_config):
    cfg: Config = tiny_config.replace(epochs=2, cache_size=30)
    quiet = dict(data=corpus_dir, out_dir=tmp_path, data_dir=tmp_path / "data", progress=False, log=lambda m: None)
    result = train(cfg, name="cached", **quiet)
    folder = tmp_path / "cached"
    info = json.loads((folder / "config.json").read_text())
    cache = load_checkpoint(folder).cache
    assert info["cache"]["size"] == 30 and cache is not None and cache.fitted_on == "validation split"
    assert cache.nats_per_token <= cache.nats_per_token_without
    assert cache.nats_per_token_without == pytest.approx(
        result.best_val_loss, abs=5e-3
    )  # validation may run under bf16

    report = evaluate_checkpoint(folder, samples=1, length=10, temperatures=(0.8,), data_dir=tmp_path / "data",
                                 log=lambda m: None)  # fmt: skip
    figures = report.to_json()["heldout"]
    assert figures["cache"]["nats_per_token"] == pytest.approx(cache.nats_per_token, rel=1e-6)
    assert figures["nats_per_token"] == pytest.approx(cache.nats_per_token_without, rel=1e-6)
    assert figures["cache"]["bits_per_char"] <= figures["bits_per_char"] + 1e-12
    assert "| with the cache (30 positions" in report.markdown()

    out = run_cli(["evaluate", "--checkpoint", str(folder), "--data-dir", str(tmp_path / "data"), "--samples", "1",
                   "--length", "5", "--temperature", "0.8", "--json", "--fit-cache", "--cache-size", "10",
                   "--cache-lambda", "0.3"])  # fmt: skip
    assert json.loads(out)["cache"]["fitted_now"] is True
    refit = load_checkpoint(folder).cache  # recorded; the checkpoint still verifies
    assert refit.size == 10 and refit.lam == 0.3

    gen = ["generate", "--checkpoint", str(folder), "--prime", "jerry:", "--length", "30", "--seed", "3"]
    with_cache, again, without = run_cli(gen), run_cli(gen), run_cli(gen + ["--no-cache"])
    assert with_cache == again and with_cache.strip() and without.strip()
