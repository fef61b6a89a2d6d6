"""Writes the small weight-loading fixtures of crates/arpo-model/tests/fixtures/weights/.

Run with the reference venv (torch, transformers, gguf, safetensors, numpy):

    /work/pyref/bin/python scripts/reference/weight_fixtures.py

Outputs (all deterministic for a given set of package versions, recorded in each file):

* quant_blocks.json -- random ggml blocks of every supported type and their values as dequantised
  by gguf-py's `gguf.quants.dequantize` (the Python reference of ggml's block layouts).
* tiny_llama.gguf, tiny_qwen2.gguf, tiny_qwen3.gguf -- tiny random models written the way llama.cpp's
  `convert_hf_to_gguf.py` writes them (dims reversed, q/k rows permuted for the llama arch, a mix
  of storage types), with metadata of every GGUF value type and a non-default alignment.
* tiny_{llama,qwen2,qwen3}_expected/ -- what transformers' own GGUF loader
  (`from_pretrained(..., gguf_file=...)`) makes of those files, saved as an HF folder
  (config.json + float32 model.safetensors). The Rust reader must produce the same tensors.
* sharded/ -- an HF folder with a two-shard safetensors checkpoint in F16, BF16 and F32, and
  sharded_expected.json with the float32 values torch converts them to.
"""

import importlib.metadata
import json
import sys
import tempfile
from pathlib import Path

import gguf
import numpy as np
import safetensors
import torch
import transformers
from gguf import GGMLQuantizationType as Q
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/arpo-model/tests/fixtures/weights"


def versions():
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "gguf": importlib.metadata.version("gguf"),
    }


# ---------------------------------------------------------------------------------------------
# 1. Random blocks per quant type.

# byte offsets of the f16 scale fields in each block (the rest of the block is random bits)
SCALE_FIELDS = {
    Q.Q4_0: [0],
    Q.Q4_1: [0, 2],
    Q.Q5_0: [0],
    Q.Q5_1: [0, 2],
    Q.Q8_0: [0],
    Q.Q4_K: [0, 2],
    Q.Q5_K: [0, 2],
    Q.Q6_K: [208],
}


def random_blocks(rng, qtype, n_blocks):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in SCALE_FIELDS[qtype]:
        # finite scales of realistic magnitude, of either sign
        scales = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
        raw[:, off : off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(-1), n_blocks * block_size


def quant_blocks():
    rng = np.random.default_rng(20240601)
    cases = []
    for qtype, n_blocks in [
        (Q.Q4_0, 4),
        (Q.Q4_1, 4),
        (Q.Q5_0, 4),
        (Q.Q5_1, 4),
        (Q.Q8_0, 4),
        (Q.Q4_K, 2),
        (Q.Q5_K, 2),
        (Q.Q6_K, 2),
    ]:
        raw, n = random_blocks(rng, qtype, n_blocks)
        values = gguf.quants.dequantize(raw, qtype).reshape(-1)
        assert values.dtype == np.float32 and values.size == n and np.isfinite(values).all()
        cases.append({"type": qtype.name, "type_id": int(qtype), "n_values": n, "bytes_hex": raw.tobytes().hex(), "values": values.tolist()})
    # dense types: random finite values
    f32 = rng.standard_normal(64).astype(np.float32)
    f16 = rng.standard_normal(64).astype(np.float16)
    bf16_bits = (rng.standard_normal(64).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    for qtype, raw in [(Q.F32, f32.view(np.uint8)), (Q.F16, f16.view(np.uint8)), (Q.BF16, bf16_bits.view(np.uint8))]:
        values = gguf.quants.dequantize(raw, qtype).reshape(-1).astype(np.float32)
        cases.append({"type": qtype.name, "type_id": int(qtype), "n_values": int(values.size), "bytes_hex": raw.tobytes().hex(), "values": values.tolist()})
    doc = {
        "description": "Random ggml blocks and their f32 values from gguf.quants.dequantize (gguf-py). "
        "Values are exact float32s; a correct dequantiser reproduces them bit for bit.",
        "script": "scripts/reference/weight_fixtures.py",
        "versions": versions(),
        "cases": cases,
    }
    (OUT / "quant_blocks.json").write_text(json.dumps(doc) + "\n")


# ---------------------------------------------------------------------------------------------
# 2. Tiny GGUF models, written like convert_hf_to_gguf.py, read back by transformers.

GGUF_LAYER = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}


def gguf_name(hf):
    if hf.startswith("model.embed_tokens."):
        return "token_embd." + hf.rsplit(".", 1)[1]
    if hf.startswith("model.norm."):
        return "output_norm." + hf.rsplit(".", 1)[1]
    if hf.startswith("lm_head."):
        return "output." + hf.rsplit(".", 1)[1]
    _, _, layer, rest = hf.split(".", 3)
    module, suffix = rest.rsplit(".", 1)
    return f"blk.{layer}.{GGUF_LAYER[module]}.{suffix}"


def llama_cpp_permute(w, n_head, n_head_kv):
    # convert_hf_to_gguf.py, LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def add_all_value_types(w):
    # one key per GGUF value type, read back by the Rust metadata test
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.25)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo")
    w.add_uint64("test.u64", 2**40 + 3)
    w.add_int64("test.i64", -(2**40) - 3)
    w.add_float64("test.f64", -1.5e-300)
    w.add_array("test.array_i32", [1, -2, 3])
    w.add_array("test.array_str", ["a", "bc", ""])


def write_tiny_gguf(arch, model, types, path):
    cfg = model.config
    w = gguf.GGUFWriter(str(path), arch)
    w.add_custom_alignment(64)
    w.add_name(f"tiny-{arch}")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(ROPE_THETA)
    w.add_vocab_size(cfg.vocab_size)
    if arch == "qwen3":
        # llama.cpp writes the head width for Qwen3 (it may differ from hidden / heads)
        w.add_key_length(cfg.head_dim)
        w.add_value_length(cfg.head_dim)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    # a byte-level vocabulary so that transformers can build a tokenizer if it wants one
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(cfg.vocab_size)])
    w.add_token_types([1] * cfg.vocab_size)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    add_all_value_types(w)
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        data = tensor.detach().float().numpy()
        if arch == "llama" and hf_name.endswith(("q_proj.weight", "q_proj.bias")):
            data = llama_cpp_permute(data, cfg.num_attention_heads, cfg.num_attention_heads)
        if arch == "llama" and hf_name.endswith(("k_proj.weight", "k_proj.bias")):
            data = llama_cpp_permute(data, cfg.num_attention_heads, cfg.num_key_value_heads)
        qtype = types.get(hf_name.split(".", 3)[-1] if hf_name.startswith("model.layers.") else hf_name, Q.F32)
        if data.ndim == 1:
            qtype = Q.F32
        if qtype == Q.F32:
            w.add_tensor(gguf_name(hf_name), data)
        elif qtype == Q.F16:
            w.add_tensor(gguf_name(hf_name), data.astype(np.float16))
        else:
            q = gguf.quants.quantize(data, qtype)
            w.add_tensor(gguf_name(hf_name), q, raw_shape=q.shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# not the default 10000, so that a reader ignoring the key fails
ROPE_THETA = 50000.0


def tiny_models():
    torch.manual_seed(0)
    common = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=128, rms_norm_eps=1e-5,
                  rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA})
    llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=96, num_hidden_layers=2, tie_word_embeddings=True, **common)).eval()
    qwen2 = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(
        vocab_size=64, num_hidden_layers=1, tie_word_embeddings=False, **common)).eval()
    # random norms, so a mixed-up norm tensor cannot pass for another
    with torch.no_grad():
        for m in (llama, qwen2):
            for name, p in m.named_parameters():
                if "norm" in name:
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
    llama_types = {
        "model.embed_tokens.weight": Q.F16,
        "self_attn.q_proj.weight": Q.Q8_0,
        "self_attn.k_proj.weight": Q.F32,
        "self_attn.v_proj.weight": Q.Q4_0,
        "self_attn.o_proj.weight": Q.Q4_1,
        "mlp.gate_proj.weight": Q.BF16,
        "mlp.up_proj.weight": Q.Q5_0,
        "mlp.down_proj.weight": Q.Q5_1,
    }
    qwen2_types = {
        "model.embed_tokens.weight": Q.Q8_0,
        "lm_head.weight": Q.F16,
        "self_attn.q_proj.weight": Q.F32,
        "self_attn.k_proj.weight": Q.Q4_1,
        "mlp.down_proj.weight": Q.Q4_0,
    }
    torch.manual_seed(3)
    qwen3 = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(
        vocab_size=64, num_hidden_layers=1, tie_word_embeddings=True, head_dim=8, **common)).eval()
    with torch.no_grad():
        for name, p in qwen3.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    qwen3_types = {
        "model.embed_tokens.weight": Q.Q4_1,
        "self_attn.q_proj.weight": Q.Q8_0,
        "self_attn.k_proj.weight": Q.F32,
        "mlp.up_proj.weight": Q.BF16,
    }
    for arch, model, types in [("llama", llama, llama_types), ("qwen2", qwen2, qwen2_types), ("qwen3", qwen3, qwen3_types)]:
        path = OUT / f"tiny_{arch}.gguf"
        write_tiny_gguf(arch, model, types, path)
        # transformers' GGUF config mapping for qwen3 ignores attention.key_length (it would build
        # head_dim 128), so that model gets its config handed over; the weights still come from the file.
        extra = {"config": model.config} if arch == "qwen3" else {}
        loaded = transformers.AutoModelForCausalLM.from_pretrained(
            str(OUT), gguf_file=path.name, dtype=torch.float32, **extra
        ).eval()
        # sanity: an F32-stored permuted tensor comes back as the original
        k = "model.layers.0.self_attn.k_proj.weight"
        if types.get("self_attn.k_proj.weight") == Q.F32:
            assert torch.equal(loaded.state_dict()[k], model.state_dict()[k]), "transformers did not undo the permutation"
        expected = OUT / f"tiny_{arch}_expected"
        expected.mkdir(parents=True, exist_ok=True)
        # save_pretrained refuses a GGUF-loaded model, so write the folder by hand
        state = {n: t.detach().float().contiguous() for n, t in loaded.state_dict().items()}
        if loaded.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        save_file(state, str(expected / "model.safetensors"), metadata={"format": "pt"})
        cfg = loaded.config.to_dict()
        for local in ["quantization_config", "_name_or_path"]:
            cfg.pop(local, None)
        # a config built from GGUF metadata has no `architectures`; real checkpoints always do
        cfg["architectures"] = [type(loaded).__name__]
        cfg["_fixture"] = {"made_by": "scripts/reference/weight_fixtures.py", "from": path.name, "versions": versions()}
        (expected / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------
# 3. A sharded HF checkpoint in half formats.

def sharded():
    torch.manual_seed(1)
    folder = OUT / "sharded"
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        "model.embed_tokens.weight": torch.randn(6, 4).to(torch.float16),
        "model.norm.weight": torch.randn(4).to(torch.bfloat16),
        "lm_head.weight": torch.randn(6, 4),
        "model.layers.0.self_attn.q_proj.bias": torch.randn(4).to(torch.bfloat16),
    }
    shards = {
        "model-00001-of-00002.safetensors": ["model.embed_tokens.weight", "model.norm.weight"],
        "model-00002-of-00002.safetensors": ["lm_head.weight", "model.layers.0.self_attn.q_proj.bias"],
    }
    for file, names in shards.items():
        save_file({n: tensors[n].contiguous() for n in names}, str(folder / file), metadata={"format": "pt"})
    index = {"metadata": {"total_size": 0}, "weight_map": {n: f for f, ns in shards.items() for n in ns}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    expected = {
        "description": "float32 values torch gives for each tensor of sharded/ (F16 / BF16 / F32 on disk)",
        "script": "scripts/reference/weight_fixtures.py",
        "versions": versions(),
        "tensors": {n: {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.float().reshape(-1).tolist()} for n, t in tensors.items()},
    }
    (OUT / "sharded_expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    quant_blocks()
    tiny_models()
    sharded()
    print("wrote", OUT)
