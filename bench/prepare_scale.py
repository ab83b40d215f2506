"""Preparing a corpus of feature screenplays at scale: time, throughput, peak memory, vocabulary, cache size.

    python bench/prepare_scale.py [--docs 1000] [--mb-per-doc 0.23] [--min-count 1 3] [--root DIR] [--keep]
                                  [--train-seconds 60] [--init-from CKPT] [--whole-split] [--novelty]

Writes ``--docs`` generated feature-length screenplays of about ``--mb-per-doc``
MB each (the default: 1,000 x 0.23 MB, about 230 MB) into ``--root`` (default
``/tmp/scriptgen-scale``, outside the repository; deleted at the end unless
``--keep``), then runs ``python -m scriptgen prepare --force`` on them in a
subprocess once per ``--min-count`` and reports, for each: the wall time,
documents/s, MB/s (file bytes), the child's peak RSS (its ``VmHWM``,
beside that of the same command's imports alone, ``prepare --help``), the
vocabulary size, the tokens and the cache's size on disk.

The screenplays are :mod:`scale_corpus`'s (seeded, one generator per document,
so the first 100 of 1,000 are the 100-document corpus; their vocabulary grows
with the corpus as a real one does: ten times the text gives about four times
the distinct words).  Formats:
45% plain screenplay text laid out by indentation (``.txt``, a third of them
with jittered indents and tabs), 40% Fountain, 15% Final Draft, rendered by
``tests/screenplays.py``; a ``genres.csv`` gives each one or two genres (read
with ``--labels``, which the benchmark does not pass: the figures are the
plain prepare's).

``--train-seconds S`` then trains a small model (2 x 256 LSTM, embedding 128,
adaptive softmax, the prepared corpus of the first ``--min-count``) for S
seconds in a subprocess and reports its tokens/s, the time of one
validation within the default ``--val-tokens`` budget and, with
``--whole-split``, of one over the whole held-out split, and saves it under
``ROOT/ck``; ``--threads N`` sets its torch threads (1 is steadier on a shared CPU);
``--init-from CKPT`` trains from that checkpoint (so on its
vocabulary: the same model on another corpus).  ``--no-prepare`` skips the
prepare runs (their caches are reused).  ``--novelty`` builds ``scriptgen evaluate``'s copy-check index over
the training split in a subprocess and reports its build time, size and the
child's peak RSS.  Human lines go to stderr; the last line on stdout is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from common import emit, machine
from scale_corpus import write_corpus

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------
# Measured children
# --------------------------------------------------------------------------
def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# Runs a command line of scriptgen (``python -m scriptgen ...``) and prints, as it exits, its peak resident memory:
# VmHWM, the high-water mark of the process's own address space since exec.  (Not wait4's ru_maxrss: Linux carries the
# RSS of the process that forked it -- this benchmark, with torch imported -- across the exec into that figure.)
HWM = "__peak_rss_kb__"
_CLI = (
    "import atexit, runpy, sys\n"
    "def _hwm():\n"
    "    kb = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    f"    print('{HWM}', kb, flush=True)\n"
    "atexit.register(_hwm)\n"
    "sys.argv = ['scriptgen', *sys.argv[1:]]\n"
    "runpy.run_module('scriptgen', run_name='__main__', alter_sys=True)\n"
)


def run_measured(cmd: list[str], log: Path | None = None) -> dict:
    """Run ``cmd`` (``["scriptgen", ...]`` for the command line, else a Python command); its wall time, its peak
    RSS (VmHWM), RSS samples every 0.5 s, and its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if cmd[0] == "scriptgen":
        cmd = [sys.executable, "-c", _CLI, *cmd[1:]]
    else:
        cmd = [sys.executable, *cmd]
    out = open(log, "w") if log else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=out, env=env, text=True)
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.5):
            samples.append((round(time.perf_counter() - start, 1), round(_rss_mb(proc.pid), 1)))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    stdout = proc.stdout.read()
    proc.wait()
    seconds = time.perf_counter() - start
    done.set()
    poller.join()
    if log:
        out.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed with status {proc.returncode} (log: {log})")
    peaks = [line.split()[1] for line in stdout.splitlines() if line.startswith(HWM)]
    peak = int(peaks[-1]) / 1024 if peaks else max((r for _, r in samples), default=0.0)
    lines = [line for line in stdout.splitlines() if not line.startswith(HWM)]
    return {"seconds": seconds, "peak_rss_mb": peak, "rss": [s for s in samples if s[1]], "stdout": "\n".join(lines)}


def du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def prepare_run(corpus: Path, data_dir: Path, min_count: int, stats: dict, logs: Path) -> dict:
    cmd = ["scriptgen", "prepare", "--data", str(corpus), "--data-dir", str(data_dir),
           "--min-count", str(min_count), "--force"]  # fmt: skip
    run = run_measured(cmd, logs / f"prepare-min{min_count}.log")
    cache = next(p.parent for p in data_dir.rglob("meta.json") if f"-min{min_count}" in p.parent.name or min_count == 1
                 and "-min" not in p.parent.name)  # fmt: skip
    meta = json.loads((cache / "meta.json").read_text())
    return {
        "min_count": min_count,
        "prepare_s": round(run["seconds"], 1),
        "documents_per_s": round(stats["files"] / run["seconds"], 2),
        "mb_per_s": round(stats["bytes"] / 1e6 / run["seconds"], 2),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "vocab_size": meta["vocab_size"],
        "n_tokens": meta["n_tokens"],
        "ids_dtype_bytes": (cache / "ids.npy").stat().st_size // max(1, meta["n_tokens"]),
        "cache_mb": round(du(cache) / 1e6, 1),
        "read": {k: meta["read"][k] for k in ("formats", "scenes", "characters")}
        | {"poorly_recognised": len(meta["read"]["poorly_recognised"])},
        "rss_samples_mb": _thin(run["rss"]),
        "cache": str(cache),
    }


def _thin(samples: list[tuple[float, float]], n: int = 12) -> list[tuple[float, float]]:
    """About ``n`` of the RSS samples, evenly spaced, and the highest."""
    if len(samples) <= n:
        return samples
    picked = samples[:: max(1, len(samples) // n)]
    top = max(samples, key=lambda s: s[1])
    return sorted(set(picked) | {top})


def child_train(corpus: str, data_dir: str, out: str, seconds: float, min_count: int, init_from: str,
                whole: bool, threads: int) -> dict:  # fmt: skip
    import torch

    if threads:
        torch.set_num_threads(threads)

    from scriptgen import Config
    from scriptgen.training.steps import evaluate
    from scriptgen.training.train import Trainer

    cfg = Config(level="word", min_count=min_count, embedding_dim=128, hidden_dim=256, n_layers=2, device="cpu",
                 max_minutes=seconds / 60, sample_every=0, epochs=1)  # fmt: skip
    t0 = time.perf_counter()
    trainer = Trainer(cfg, Path(out), corpus, data_dir, progress=False, log=lambda m: print(m, file=sys.stderr),
                      overwrite=True, init_from=init_from or None)  # fmt: skip
    setup_s = time.perf_counter() - t0
    s, start = trainer.state, time.perf_counter()
    for x, y in trainer.data.train_batches.epoch(0):
        trainer.train_step(x, y)
        if time.perf_counter() - start >= seconds:
            break
    result = {
        "train_setup_s": round(setup_s, 1),
        "train_steps": s.step,
        "train_tokens_per_s": round(s.tokens / s.train_time),
        "vocab_size": len(trainer.vocab),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "n_train_tokens": trainer.data.info["n_train_tokens"],
        "n_val_tokens": trainer.data.info["n_val_tokens"],
        "val_tokens": getattr(trainer.cfg, "val_tokens", None),
    }
    budget = getattr(trainer, "val_batches", trainer.data.val_batches)
    t0 = time.perf_counter()
    val = evaluate(trainer.eval_model, budget)
    result |= {"budget_val_s": round(time.perf_counter() - t0, 1), "budget_val_scored": budget.batch_size *
               budget.row_len, "budget_val_loss": round(val, 4)}  # fmt: skip
    if whole:
        whole_batches = trainer.data.val_batches
        t0 = time.perf_counter()
        val = evaluate(trainer.eval_model, whole_batches)
        result |= {"whole_val_s": round(time.perf_counter() - t0, 1), "whole_val_scored": whole_batches.batch_size *
                   whole_batches.row_len, "whole_val_loss": round(val, 4)}  # fmt: skip
    result["torch_threads"] = torch.get_num_threads()
    trainer.save()  # a checkpoint, for --init-from
    return result


def vmhwm_mb() -> float:
    """This process's peak resident memory since it started (VmHWM)."""
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))) / 1024


def child_novelty(corpus: str, data_dir: str, min_count: int) -> dict:
    from scriptgen.data.prepare import prepare
    from scriptgen.evaluation.evaluate import COPY_SPAN
    from scriptgen.evaluation.novelty import NgramIndex

    prepared = prepare(corpus, "word", min_count, data_dir, log=lambda m: print(m, file=sys.stderr))
    split = prepared.split(0.1, 0)
    before = vmhwm_mb()
    t0 = time.perf_counter()
    index = NgramIndex(prepared.ids, split.train, COPY_SPAN["word"], len(prepared.vocab))
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(30):  # 30 samples of 200 tokens: a stretch of training text with a few tokens changed
        start = int(rng.integers(0, len(prepared.ids) - 200))
        sample = np.asarray(prepared.ids[start : start + 200], dtype=np.int64).copy()
        sample[rng.integers(0, 200, 5)] = rng.integers(0, len(prepared.vocab), 5)
        index.match(sample)
    return {
        "index_ngrams": len(index),
        "index_mb": round(index.keys.nbytes / 1e6, 1),
        "index_build_s": round(build_s, 1),
        "match_30x200_s": round(time.perf_counter() - t0, 2),
        "rss_before_index_mb": round(before, 1),
        "peak_rss_mb": round(vmhwm_mb(), 1),
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="screenplays to generate (default: 1000)")
    parser.add_argument("--mb-per-doc", type=float, default=0.23, help="MB per screenplay file (default: 0.23)")
    parser.add_argument(
        "--min-count", type=int, nargs="+", default=[1, 3], help="prepare once per value (default: 1 3)"
    )
    parser.add_argument("--root", default="/tmp/scriptgen-scale", help="corpus, prepared data and logs go here")
    parser.add_argument("--keep", action="store_true", help="keep --root afterwards (a later run reuses its corpus)")
    parser.add_argument("--no-prepare", action="store_true", help="skip the prepare runs (reuse their caches)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator (default: 0)")
    parser.add_argument("--train-seconds", type=float, default=0, help="also train a small model this long")
    parser.add_argument("--init-from", default="", help="train from this checkpoint (its vocabulary and weights)")
    parser.add_argument("--whole-split", action="store_true", help="also time one validation over the whole split")
    parser.add_argument("--novelty", action="store_true", help="also build evaluate's copy-check index")
    parser.add_argument("--threads", type=int, default=0, help="torch threads of the training (default: torch's)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        what, *rest = args.child
        if what == "train":
            c, d, o, sec, mc, init, whole, threads = rest
            result = child_train(c, d, o, float(sec), int(mc), init if init != "-" else "", whole == "1", int(threads))
        else:
            result = child_novelty(rest[0], rest[1], int(rest[2]))
        print(json.dumps(result))
        print(HWM, int(vmhwm_mb() * 1024))
        return

    root = Path(args.root)
    corpus = root / f"corpus-{args.docs}x{args.mb_per_doc:g}-s{args.seed}"
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = corpus / ".stats.json"
    result: dict = {"docs": args.docs, "load_average_before": load_average()}
    if stamp.exists():
        stats = json.loads(stamp.read_text())
        print(f"reusing {corpus}", file=sys.stderr)
    else:
        t0 = time.perf_counter()
        stats = write_corpus(corpus, args.docs, args.mb_per_doc, args.seed)
        stats["generate_s"] = round(time.perf_counter() - t0, 1)
        stamp.write_text(json.dumps(stats))
    print(f"corpus: {stats['files']} files, {stats['bytes'] / 1e6:.1f} MB, {stats['words']:,} words "
          f"{stats['formats']}", file=sys.stderr)  # fmt: skip
    result |= {"mb": round(stats["bytes"] / 1e6, 1), "words": stats["words"], "formats": stats["formats"]}

    data_dir = root / f"data-{corpus.name}"
    import_only = run_measured(["scriptgen", "prepare", "--help"])
    result["import_rss_mb"] = round(import_only["peak_rss_mb"], 1)
    result["prepare"] = []
    for mc in [] if args.no_prepare else args.min_count:
        prep = prepare_run(corpus, data_dir, mc, stats, logs)
        print(f"prepare --min-count {mc}: {prep['prepare_s']} s, {prep['documents_per_s']} documents/s, "
              f"{prep['mb_per_s']} MB/s, peak RSS {prep['peak_rss_mb']:.0f} MB "
              f"(imports {result['import_rss_mb']:.0f}), "
              f"vocabulary {prep['vocab_size']:,}, {prep['n_tokens']:,} tokens, cache {prep['cache_mb']} MB",
              file=sys.stderr)  # fmt: skip
        result["prepare"].append(prep)
    result["load_average_after_prepare"] = load_average()

    if args.train_seconds:
        child = [__file__, "--child", "train", str(corpus), str(data_dir), str(root / "ck" /
                 corpus.name), str(args.train_seconds), str(args.min_count[0]), args.init_from or "-",
                 "1" if args.whole_split else "0", str(args.threads)]  # fmt: skip
        result["load_average_before_train"] = load_average()
        run = run_measured(child, logs / "train.log")
        train = json.loads(run["stdout"].strip().splitlines()[-1]) | {"train_peak_rss_mb": round(run["peak_rss_mb"], 1)}
        print(f"train: {train}", file=sys.stderr)
        result["train"] = train
        result["load_average_after_train"] = load_average()
    if args.novelty:
        run = run_measured([__file__, "--child", "novelty", str(corpus), str(data_dir),
                            str(args.min_count[0])], logs / "novelty.log")  # fmt: skip
        novelty = json.loads(run["stdout"].strip().splitlines()[-1])
        print(f"novelty index: {novelty}", file=sys.stderr)
        result["novelty"] = novelty
        result["load_average_after_novelty"] = load_average()
    result["generate_s"] = stats.get("generate_s")
    emit(result | machine())
    if not args.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
