"""Loads a model folder exported by arpo-train (`export_hf`) with transformers and compares its
logits with the ones arpo-train computed (`ours.json` in the folder, written by
crates/arpo-train/tests/export.rs when ARPO_EXPORT_DIR is set). Writes transformers' logits as
the fixture that the Rust test compares against, and fails if they differ by more than 1e-4.

Run: ARPO_EXPORT_DIR=/tmp/arpo-export cargo test -p arpo-train --test export
     /work/pyref/bin/python scripts/train/check_export.py /tmp/arpo-export \
         crates/arpo-train/tests/fixtures/export_logits.json
(The first run of the Rust test needs a fixture to read: the script also accepts a folder
without ours.json and then only writes transformers' logits for the default tokens.)
"""

import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM

DEFAULT_TOKENS = [3, 17, 42, 5, 63, 0, 28, 9, 9, 51, 12, 33]


def main(folder, out_path):
    ours_path = os.path.join(folder, "ours.json")
    ours = json.load(open(ours_path)) if os.path.exists(ours_path) else None
    tokens = ours["tokens"] if ours else DEFAULT_TOKENS
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0]
    diff = None
    if ours is not None:
        diff = (logits - torch.tensor(ours["logits"])).abs().max().item()
        print(f"max |transformers - arpo-train| = {diff:.3e}")
        assert diff <= 1e-4, diff
    fixture = {
        "source": f"scripts/train/check_export.py, transformers {transformers.__version__}, torch {torch.__version__}",
        "tokens": tokens,
        "vocab": logits.shape[-1],
        "logits": logits.tolist(),
        "max_abs_diff_vs_ours": diff if diff is not None else float("inf"),
    }
    with open(out_path, "w") as f:
        json.dump(fixture, f)
    print("wrote", out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
