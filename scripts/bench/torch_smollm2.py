"""PyTorch (transformers) throughput on the same GGUF, for examples/bench_model.rs.

Prints one JSON object: prefill tokens/s (512 tokens, logits for all positions), greedy decode
tokens/s at batch 1 and batch 16 (decode only, KV cache), f32, the given thread count.
Usage: python scripts/bench/torch_smollm2.py GGUF_PATH THREADS
"""
import json
import pathlib
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    gguf = pathlib.Path(sys.argv[1])
    threads = int(sys.argv[2])
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    out = {"threads": threads, "torch": torch.__version__}
    with torch.inference_mode():
        ids = torch.randint(0, vocab, (1, 512), generator=g)
        model(ids)  # warm-up
        times = []
        for _ in range(3):
            t = time.perf_counter()
            model(ids)
            times.append(time.perf_counter() - t)
        out["prefill_tok_s"] = 512 / sorted(times)[1]
        for batch, new in ((1, 64), (16, 32)):
            prompt = torch.randint(0, vocab, (batch, 32), generator=g)
            res = model(prompt, use_cache=True)
            past, nxt = res.past_key_values, res.logits[:, -1].argmax(-1, keepdim=True)
            t = time.perf_counter()
            for _ in range(new):
                res = model(nxt, past_key_values=past, use_cache=True)
                past, nxt = res.past_key_values, res.logits[:, -1].argmax(-1, keepdim=True)
            out[f"decode_b{batch}_tok_s"] = batch * new / (time.perf_counter() - t)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
