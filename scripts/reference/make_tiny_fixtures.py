"""Tiny random HF checkpoints and transformers' logits for them: the reference for arpo-model's
parity tests (crates/arpo-model/tests/parity_tiny.rs).

Run: python scripts/reference/make_tiny_fixtures.py   (needs torch, transformers, safetensors)

Each fixture folder gets config.json, model.safetensors and reference.json holding the prompts
(token ids of different lengths) and transformers' float32 logits for every position.
"""
import json
import pathlib

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/arpo-model/tests/fixtures"
PROMPTS = [
    [1, 17, 33, 5, 99, 120, 7],
    [2, 64, 64, 3, 8, 15, 101, 77, 42, 11, 9, 127],
    [5, 6, 7, 8, 9],
]

COMMON = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-6,
)

MODELS = {
    # Qwen2: q/k/v bias, untied head, large rope_theta.
    "tiny-qwen2": (Qwen2Config, Qwen2ForCausalLM, dict(tie_word_embeddings=False, rope_theta=1_000_000.0)),
    # Llama with tied head and Llama-3 rope scaling.
    "tiny-llama": (
        LlamaConfig,
        LlamaForCausalLM,
        dict(
            tie_word_embeddings=True,
            rope_theta=500_000.0,
            rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                              original_max_position_embeddings=64),
        ),
    ),
    # Qwen3: per-head q/k RMSNorm, explicit head_dim different from hidden/heads.
    "tiny-qwen3": (Qwen3Config, Qwen3ForCausalLM, dict(tie_word_embeddings=False, head_dim=16, rope_theta=10_000.0)),
}


def main():
    for name, (cfg_cls, model_cls, extra) in MODELS.items():
        torch.manual_seed(sum(map(ord, name)))
        config = cfg_cls(**COMMON, **extra)
        model = model_cls(config).eval().float()
        # Random init leaves norms at 1 and biases at 0: perturb them so the test sees them.
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if "norm" in pname or pname.endswith(".bias"):
                    p.add_(0.1 * torch.randn_like(p))
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder, safe_serialization=True)
        width = max(map(len, PROMPTS))
        ids = torch.zeros(len(PROMPTS), width, dtype=torch.long)
        mask = torch.zeros(len(PROMPTS), width, dtype=torch.long)
        for i, p in enumerate(PROMPTS):
            ids[i, : len(p)] = torch.tensor(p)
            mask[i, : len(p)] = 1
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits
        ref = {
            "generated_by": f"torch {torch.__version__}, transformers {transformers.__version__}",
            "prompts": PROMPTS,
            "logits": [logits[i, : len(p)].tolist() for i, p in enumerate(PROMPTS)],
        }
        (folder / "reference.json").write_text(json.dumps(ref))
        for extra_file in ("generation_config.json",):
            (folder / extra_file).unlink(missing_ok=True)
        print(name, "written to", folder)


if __name__ == "__main__":
    main()
