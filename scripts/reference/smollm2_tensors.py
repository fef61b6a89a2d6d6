"""Records what transformers' GGUF loader makes of SmolLM2-135M-Instruct.Q4_1.gguf, for
crates/arpo-model/tests/weights_smollm2.rs.

    ./scripts/fetch-smollm2.sh
    /work/pyref/bin/python scripts/reference/smollm2_tensors.py

transformers dequantises every tensor to float32 (gguf-py's `dequantize`) and undoes llama.cpp's
q/k row permutation (`LlamaTensorProcessor._reverse_permute_weights`). The fixture holds, for every
tensor of the model, its shape and float64 sum / sum of squares, and for a few tensors the first
64 values of some rows.

Output: crates/arpo-model/tests/fixtures/weights/smollm2_tensors.json
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import transformers

ROOT = Path(__file__).resolve().parents[2]
GGUF = ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = ROOT / "crates/arpo-model/tests/fixtures/weights/smollm2_tensors.json"

# HF name -> rows whose first 64 values are recorded. q/k rows cover head boundaries (head_dim 64)
# and both halves of a head, where a wrong un-permutation shows.
ROWS = {
    "model.embed_tokens.weight": [0, 1, 2, 1000, 49151],
    "model.layers.0.self_attn.q_proj.weight": [0, 1, 31, 32, 33, 63, 64, 575],
    "model.layers.0.self_attn.k_proj.weight": [0, 1, 31, 32, 63, 64, 191],
    "model.layers.29.self_attn.k_proj.weight": [0, 32, 100],
    "model.layers.0.self_attn.v_proj.weight": [0, 1, 191],
    "model.layers.7.mlp.down_proj.weight": [0, 575],
    "model.layers.0.input_layernorm.weight": None,
    "model.norm.weight": None,
}


def main():
    if not GGUF.is_file():
        sys.exit(f"{GGUF} missing: run scripts/fetch-smollm2.sh first")
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(GGUF.parent), gguf_file=GGUF.name, dtype=torch.float32
    ).eval()
    state = model.state_dict()
    tied = bool(model.config.tie_word_embeddings)
    stats = {}
    for name, t in state.items():
        if tied and name == "lm_head.weight":
            continue
        a = t.detach().double().numpy()
        stats[name] = {"shape": list(t.shape), "sum": float(a.sum()), "sum_sq": float((a * a).sum())}
    slices = {}
    for name, rows in ROWS.items():
        t = state[name].detach().float().numpy()
        if rows is None:
            slices[name] = {"rows": None, "values": [t[:64].tolist()]}
        else:
            slices[name] = {"rows": rows, "values": [t[r, :64].tolist() for r in rows]}
    doc = {
        "description": "transformers' float32 dequantisation of the SmolLM2 GGUF (q/k un-permuted): "
        "shape, float64 sum and sum of squares of every tensor; first 64 values of some rows",
        "script": "scripts/reference/smollm2_tensors.py",
        "gguf_file": GGUF.name,
        "gguf_bytes": GGUF.stat().st_size,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__},
        "tie_word_embeddings": tied,
        "config": {
            k: getattr(model.config, k)
            for k in ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                      "num_key_value_heads", "rms_norm_eps", "max_position_embeddings"]
        },
        "rope_theta": model.config.rope_parameters["rope_theta"],
        "stats": stats,
        "slices": slices,
    }
    OUT.write_text(json.dumps(doc) + "\n")
    print("wrote", OUT, len(stats), "tensors")


if __name__ == "__main__":
    main()
