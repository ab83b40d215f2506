"""What do roles buy?  The same corpus, model and minutes with ``--roles off`` and ``--roles on`` (issue #25).

    python bench/roles.py                       # 48 screenplays, a word-level model, 20 epochs each
    python bench/roles.py --epochs 2 --scripts 16 --samples 4     # a quick look

A generated corpus (``tests/screenplays.py``'s :func:`ensemble`: each screenplay its own cast of 10 drawn from a pool
of 1,600 names, so a name is rare across scripts, speaking with Zipf-like shares, named in action and dialogue, a
minor part now and then; nothing committed, written under --root) trains two models that differ only in
``--roles``, for the same epochs with the same seed: equal compute up to the streams' lengths (the roles stream is
a little shorter, a role token standing for a name of two words: its steps and seconds are recorded; equal minutes
would measure the machine's load more than the models, and the first run of a process pays its warm-up).

Reported for each, on the same held-out screenplays (the split is by document and seeded, so both hold out the same
ones):

- ``val_loss``: the validation loss training kept (nats per token).  Not comparable between the two: the token
  streams differ (a role token for a name, one token for DETECTIVE RUIZ's two).
- ``bpc``: bits per character of the held-out screenplays' canonical text with the real names, each document
  scored whole from its start: the model's summed nats over the characters of the original text (the same
  denominator for both).  With roles the names are not predicted, only their roles; ``bpc_with_names`` adds the
  cost of naming them: 8 bits per character of each role's name (and a separator) once per document, an upper
  bound on what spelling the mapping out costs.
- ``coherence``: over ``--samples`` samples of ``--length`` tokens from a scene's start, the share of cues in scenes
  after the first whose speaker already spoke in an earlier scene of the same sample (characters that carry over
  from scene to scene, as a script's do), with the number of such cues; ``corpus_coherence`` is the same share in
  the corpus's screenplays, each cut to about ``--length`` words (what a model that keeps its cast would reach).

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import machine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from screenplays import _FIRST, _SECOND, ensemble, fountain  # noqa: E402

from scriptgen import Config, load_checkpoint, prepare, train  # noqa: E402
from scriptgen.config import REGULARIZERS_OFF  # noqa: E402
from scriptgen.data.screenplay.elements import from_canonical, to_canonical  # noqa: E402
from scriptgen.evaluation.heldout import position_nats  # noqa: E402
from scriptgen.writing.cues import ScriptTokens  # noqa: E402
from scriptgen.writing.generate import generate  # noqa: E402

POOL = [a + b + c for a in _FIRST for b in _SECOND for c in _SECOND]  # 1,600 names: MAYAKO, RUIZLA, ...
CHUNK = 512  # tokens scored per step of a held-out document


def write_corpus(root: Path, scripts: int, scenes: int) -> dict[str, str]:
    """The screenplays as Fountain under ``root``; returns each file's canonical text with the real names."""
    root.mkdir(parents=True, exist_ok=True)
    texts = {}
    for seed in range(scripts):
        play = ensemble(seed, scenes, pool=POOL)
        (root / f"s{seed:03d}.fountain").write_text(fountain(play), encoding="utf-8")
        texts[f"s{seed:03d}.fountain"] = to_canonical(play)
    return texts


@torch.inference_mode()
def document_nats(model, ids: np.ndarray) -> float:
    """Summed nats of every token of one document after its first, scored as one stream from its start."""
    total, hidden = 0.0, None
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    for start in range(0, len(ids) - 1, CHUNK):
        x = ids[start : start + CHUNK].unsqueeze(0)
        y = ids[start + 1 : start + CHUNK + 1].unsqueeze(0)
        x = x[:, : y.shape[1]]
        nats, hidden = position_nats(model, x, y, hidden)
        total += float(nats.sum(dtype=torch.float64))
    return total


def heldout_bpc(ckpt, prepared, texts: dict[str, str]) -> dict:
    model = ckpt.build_model().eval()
    split = prepared.split(ckpt.config.val_fraction, ckpt.config.split_seed)
    held = {(s, e) for s, e in split.val}
    nats = chars = naming = 0.0
    names = []
    for doc in prepared.documents:
        if (doc["start"], doc["end"]) in held:
            nats += document_nats(model, prepared.ids[doc["start"] : doc["end"]])
            chars += len(texts[doc["name"]])
            naming += sum(8 * (len(n) + 1) for n in doc.get("roles", {}).values())
            names.append(doc["name"])
    bits = nats / math.log(2)
    return {
        "heldout_documents": sorted(names),
        "bpc": round(bits / chars, 4),
        "bpc_with_names": round((bits + naming) / chars, 4),
    }


def carried_cues(text: str) -> tuple[int, int]:
    """(cues in scenes after the first whose speaker spoke in an earlier scene, cues in scenes after the first)."""
    carried = later = 0
    scenes: list[set[str]] = [set()]
    for e in from_canonical(text):
        if e.kind == "scene_heading":
            scenes.append(set())
        elif e.kind == "character":
            name = e.name.lower()
            if len(scenes) > 1:  # a cue after the first scene heading
                later += 1
                carried += any(name in s for s in scenes[:-1])
            scenes[-1].add(name)
    return carried, later


def coherence(ckpt, samples: int, length: int, temperature: float) -> dict:
    """The share of cues in scenes after the first whose speaker spoke in an earlier scene of the sample."""
    model, vocab = ckpt.build_model(), ckpt.vocab
    newline = ScriptTokens(vocab).newline
    carried = later = 0
    for seed in range(samples):
        c, n = carried_cues(vocab.decode(generate(model, [newline, newline], length, temperature, seed=seed)))
        carried, later = carried + c, later + n
    return {"coherence": round(carried / later, 4) if later else None, "cues_after_first_scene": later}


def corpus_coherence(texts: dict[str, str], length: int) -> float:
    """The proxy on the corpus itself, each screenplay cut to about a sample's length in words (the reference)."""
    carried = later = 0
    for text in texts.values():
        words = 0
        kept = []
        for line in text.split("\n"):
            kept.append(line)
            words += len(line.split())
            if words >= length:
                break
        c, n = carried_cues("\n".join(kept))
        carried, later = carried + c, later + n
    return round(carried / later, 4) if later else None


def run(args: argparse.Namespace) -> dict:
    root = Path(args.root or tempfile.mkdtemp(prefix="roles-bench-"))
    corpus = root / "plays"
    texts = write_corpus(corpus, args.scripts, args.scenes)
    base = dict(
        **REGULARIZERS_OFF, level=args.level, embedding_dim=args.embedding_dim, hidden_dim=args.hidden_dim,
        n_layers=1, dropout=0.1, seq_len=32, batch_size=16, lr=0.003, output="softmax", precision="fp32",
        device="cpu", epochs=args.epochs, max_minutes=args.minutes, seed=1, sample_every=0,
    )  # fmt: skip
    out = {"bench": "roles", "scripts": args.scripts, "scenes": args.scenes, "epochs": args.epochs}
    out |= {"level": args.level, "hidden_dim": args.hidden_dim, "machine": machine()}
    out["corpus_coherence"] = corpus_coherence(texts, args.length)
    for roles in ("off", "on"):
        cfg = Config.for_level(**base, roles=roles)
        start = time.perf_counter()
        result = train(cfg, data=corpus, name=f"roles-{roles}", out_dir=root / "ck", data_dir=root / "data",
                       progress=False, log=lambda m: None, overwrite=True)  # fmt: skip
        seconds = time.perf_counter() - start
        ckpt = load_checkpoint(result.folder)
        prepared = prepare(corpus, args.level, data_dir=root / "data", log=lambda m: None, roles=roles)
        row = {"steps": result.steps, "train_seconds": round(result.elapsed_s, 1), "seconds": round(seconds, 1)}
        row |= {"val_loss": round(result.best_val_loss, 4), "vocab": len(ckpt.vocab), "tokens": len(prepared.ids)}
        row |= heldout_bpc(ckpt, prepared, texts)
        row |= coherence(ckpt, args.samples, args.length, args.temperature)
        out[f"roles_{roles}"] = row
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scripts", type=int, default=48, help="generated screenplays (default: 48)")
    p.add_argument("--scenes", type=int, default=8, help="scenes per screenplay (default: 8)")
    p.add_argument("--level", default="word", choices=("word", "char", "bpe"), help="token level (default: word)")
    p.add_argument("--hidden-dim", type=int, default=128, help="hidden size (default: 128)")
    p.add_argument("--embedding-dim", type=int, default=64, help="embedding size (default: 64)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs per model (default: 20)")
    p.add_argument("--minutes", type=float, default=0.0, help="a cap on each model's training minutes (default: none)")
    p.add_argument("--samples", type=int, default=8, help="samples per model for the coherence proxy (default: 8)")
    p.add_argument("--length", type=int, default=600, help="tokens per sample (default: 600)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    p.add_argument("--root", default=None, help="where the corpus and checkpoints go (default: a temporary folder)")
    print(json.dumps(run(p.parse_args())))


if __name__ == "__main__":
    main()
