"""Training throughput: the course's loop against scriptgen's default training, same model size, same run.

    python bench/train_speed.py [--seconds 60] [--device auto]

Both train on the default corpus's training split: the course loop (windows of
10, loss on the last word only, shuffled DataLoader, batch 128, embedding 400,
hidden 512, 2 layers, Adam 0.001; bench/course_baseline.py) and scriptgen's
default path (contiguous BPTT chunks, loss on every position, adaptive softmax)
at the same embedding/hidden/layers.  A target is one scored next-word
prediction.  Also reports scriptgen's default configuration and its time per
epoch, FLOPs per target against what the machine reached, and the machine's
matrix-product peak (fp32, and bf16 where native) as the ceiling of the ratio.  Last line: JSON.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import torch
from common import default_split, emit, machine, matmul_peak_gflops, output_macs_per_token, rnn_macs_per_token
from course_baseline import COURSE, course_model, train_course

from scriptgen import Config
from scriptgen.training.train import Trainer, autocast_dtype, resolve_device


def scriptgen_speed(cfg: Config, seconds: float) -> tuple[float, Trainer]:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            cfg.replace(max_minutes=seconds / 60, eval_interval=10**9), f"{tmp}/run", progress=False, log=lambda m: None
        )
        result = trainer.run()
    return result.tokens_per_s, trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="training seconds per contender (default: 60)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    prepared, train_ids, _ = default_split()
    vocab_size = len(prepared.vocab)

    torch.manual_seed(0)
    course = course_model(vocab_size, device)
    c = train_course(course, train_ids, args.seconds, device)
    print(f"course loop: {c['targets_per_s']:,.0f} targets/s", file=sys.stderr)

    same_size = Config(
        embedding_dim=COURSE["embedding_dim"],
        hidden_dim=COURSE["hidden_dim"],
        n_layers=COURSE["n_layers"],
        device=args.device,
    )
    s_same, trainer = scriptgen_speed(same_size, args.seconds)
    print(f"scriptgen, course size: {s_same:,.0f} targets/s", file=sys.stderr)
    s_default, default_trainer = scriptgen_speed(Config(device=args.device), args.seconds)
    n_train = default_trainer.data.info["n_train_tokens"]
    print(f"scriptgen, default config: {s_default:,.0f} targets/s, epoch {n_train / s_default:.0f} s", file=sys.stderr)

    # forward+backward ~ 3x the forward multiply-adds; 2 FLOPs per multiply-add
    course_flops = 3 * 2 * (COURSE["sequence_length"] * rnn_macs_per_token(course) + output_macs_per_token(course))
    ours_flops = 3 * 2 * (rnn_macs_per_token(trainer.model) + output_macs_per_token(trainer.model))
    # the ceiling: the machine's best matrix-product rate spent on nothing but scriptgen's FLOPs
    # (bf16 only where it is native: emulated, it is far below fp32 and takes minutes to time)
    dtypes = [torch.float32] + ([torch.bfloat16] if autocast_dtype("auto", device) is not None else [])
    peak = {str(dt).split(".")[-1]: matmul_peak_gflops(device, dt) for dt in dtypes}
    best_peak = max(peak.values())
    ceiling = best_peak * 1e9 / ours_flops / c["targets_per_s"]
    print(f"matmul peak {peak} GFLOP/s: at most {ceiling:.1f}x the course loop at this FLOP count", file=sys.stderr)
    emit(
        {
            "course_targets_per_s": round(c["targets_per_s"], 1),
            "scriptgen_targets_per_s": round(s_same, 1),
            "ratio": round(s_same / c["targets_per_s"], 2),
            "scriptgen_default_targets_per_s": round(s_default, 1),
            "default_epoch_s": round(n_train / s_default, 1),
            "course_gflop_per_target": round(course_flops / 1e9, 4),
            "scriptgen_gflop_per_target": round(ours_flops / 1e9, 4),
            "course_gflops_reached": round(course_flops * c["targets_per_s"] / 1e9, 1),
            "scriptgen_gflops_reached": round(ours_flops * s_same / 1e9, 1),
            "matmul_peak_gflops": {k: round(v, 1) for k, v in peak.items()},
            "ratio_ceiling_at_peak": round(ceiling, 1),
            "seconds": args.seconds,
            "device": str(device),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
