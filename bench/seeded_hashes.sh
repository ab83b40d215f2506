#!/usr/bin/env bash
# Seeded CPU runs and generated ids whose sha256 must not change across a refactor:
#   bash bench/seeded_hashes.sh REPO_ROOT OUT_DIR   (compare the printed lines of two commits)
# Runs: 4 epochs; 2 epochs resumed to 4 (must equal the 4-epoch run); one epoch of lstm, gru and rnn; then 80 ids per
# cell at fp32 and int8 (gen.json).  The flags pin the untied, undecayed model the hashes were first taken of (a
# commit before --weight-decay existed needs that flag dropped).
set -euo pipefail
REPO=$(cd "$1" && pwd); OUT=$2; rm -rf "$OUT"; mkdir -p "$OUT/corpus"
export PYTHONPATH=$REPO
cd "$OUT"
python - <<'PY'
import sys; import os; sys.path.insert(0, os.path.join(os.environ["PYTHONPATH"], "tests"))
from conftest import make_script
for i in range(12):
    open(f"corpus/ep{i}.txt", "w").write(make_script(200, seed=i))
PY
T="python -m scriptgen train --data corpus --data-dir data --out-dir ck --no-progress --embedding-dim 32 --hidden-dim 48 --seq-len 16 --batch-size 8 --seed 7 --sample-every 0 --no-tie-weights --weight-decay 0"
$T --name full --epochs 4 > full.log
$T --name half --epochs 2 > half.log
python -m scriptgen train --resume ck/half --epochs 4 --no-progress --data-dir data > resumed.log
for c in lstm gru rnn; do $T --name $c --cell $c --epochs 1 > $c.log; done
python - <<'PY'
import json
from scriptgen import load_model, generate
out = {}
for c in ["lstm", "gru", "rnn"]:
    model, vocab, cfg = load_model(f"ck/{c}")
    prime = vocab.encode("jerry: what is the deal with") if hasattr(vocab, "encode") else [3, 5]
    out[c] = {p: list(generate(model, list(prime), 80, temperature=0.9, top_k=k, seed=11, precision=p)) for p, k in [("fp32", 0), ("int8", 5)]}
json.dump(out, open("gen.json", "w"))
PY
sha256sum ck/*/model.safetensors ck/*/trainer.safetensors gen.json
