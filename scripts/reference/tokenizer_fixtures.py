"""Writes the tokenizer fixtures of crates/arpo-model/tests/fixtures/tokenizer/.

Run with the reference venv (transformers, tokenizers):

    /work/pyref/bin/python scripts/reference/tokenizer_fixtures.py

* tiny_hf/ -- a tiny byte-level BPE tokenizer.json trained here with the `tokenizers` package on
  the inline corpus below, and a tokenizer_config.json with a ChatML template that uses
  `raise_exception`, `.strip()`, `| trim`, `loop.last` and the special-token variables.
  tiny_hf_expected.json holds what transformers' AutoTokenizer makes of that folder: ids and
  decoded text for TEXTS, and `apply_chat_template` output (text and ids) for CONVERSATIONS.
* smollm2_gguf.json -- the same for the tokenizer and template transformers builds from
  SmolLM2-135M-Instruct.Q4_1.gguf (fetched by scripts/fetch-smollm2.sh); skipped when the file is
  absent.

Decoding uses skip_special_tokens=False and clean_up_tokenization_spaces=False: the raw inverse
of encoding, which is what arpo's Tokenizer::decode promises.
"""

import json
import sys
from pathlib import Path

import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/arpo-model/tests/fixtures/tokenizer"
GGUF = ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"

TEXTS = [
    "Hello world",
    "The capital of France is Paris.",
    "  leading spaces, trailing spaces  ",
    "Numbers: 12345, 3.14159, 2024-06-01 and 1,000,000.",
    "I'm sure you'll see it's what they've said we'd do.",
    "tabs\tand\nnew\n\nlines\r\n",
    "def f(x):\n    return x**2  # square\n",
    "naïve café, Zürich, São Paulo",
    "日本語のテキストと中文",
    "emoji 🙂👍🏽 and symbols ∑ ≤ ∞",
    "مرحبا بالعالم",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "text with <|endoftext|> inside",
    "<python>print(1)</python><result>1</result>",
    "",
]

CONVERSATIONS = [
    {"messages": [{"role": "user", "content": "What is the capital of France? Answer briefly."}], "add_generation_prompt": True},
    {
        "messages": [
            {"role": "system", "content": "  You are terse.  "},
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello! "},
            {"role": "user", "content": "Count to 3."},
        ],
        "add_generation_prompt": True,
    },
    {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}], "add_generation_prompt": False},
]

# The roles this template refuses; the Rust side must fail too.
ERROR_CONVERSATION = {"messages": [{"role": "tool", "content": "42"}], "add_generation_prompt": True}

TINY_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system = messages[0]['content'].strip() %}{%- set rest = messages[1:] %}"
    "{%- else %}{%- set system = 'You are a helpful assistant.' %}{%- set rest = messages %}{%- endif %}"
    "<|im_start|>system\n{{ system }}<|im_end|>\n"
    "{% for message in rest %}\n"
    "    {% if message['role'] not in ['user', 'assistant'] %}"
    "{{ raise_exception('Conversation roles must be user or assistant, got ' + message['role']) }}{% endif %}\n"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] | trim }}<|im_end|>\n"
    "{% if loop.last and message['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = """
The quick brown fox jumps over the lazy dog. What is the capital of France? Paris is the capital
of France, and Berlin is the capital of Germany. Reinforcement learning trains a policy with
rewards; agents call tools such as a Python interpreter or a search engine. def solve(x): return
x * 2 + 1. Numbers like 42, 3.14 and 2024 appear in text. You are a helpful assistant. Answer
briefly and correctly. Hello world! How are you today? I'm fine, thanks. Café, naïve, Zürich.
"""


def versions():
    return {"python": sys.version.split()[0], "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def make_tiny_tokenizer(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([CORPUS] * 4, trainer=trainer)
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True},
        "add_bos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 2048,
        "chat_template": TINY_TEMPLATE,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def expected_for(tok, description):
    texts = []
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        decoded = tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        texts.append({"text": text, "ids": ids, "decoded": decoded})
    convs = []
    for conv in CONVERSATIONS:
        rendered = tok.apply_chat_template(conv["messages"], tokenize=False, add_generation_prompt=conv["add_generation_prompt"])
        ids = tok.encode(rendered, add_special_tokens=False)
        convs.append({**conv, "rendered": rendered, "ids": ids})
    try:
        tok.apply_chat_template(ERROR_CONVERSATION["messages"], tokenize=False, add_generation_prompt=True)
        error = None
    except Exception as e:  # noqa: BLE001 -- any template error is what we record
        error = f"{type(e).__name__}: {e}"
    return {
        "description": description,
        "script": "scripts/reference/tokenizer_fixtures.py",
        "versions": versions(),
        "eos_token": tok.eos_token,
        "eos_token_id": tok.eos_token_id,
        "vocab_len": len(tok),
        "texts": texts,
        "conversations": convs,
        "error_conversation": {**ERROR_CONVERSATION, "error": error},
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tiny = OUT / "tiny_hf"
    make_tiny_tokenizer(tiny)
    tok = transformers.AutoTokenizer.from_pretrained(str(tiny))
    doc = expected_for(tok, "transformers AutoTokenizer on tiny_hf/ (a BPE trained by this script)")
    (OUT / "tiny_hf_expected.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")

    if GGUF.is_file():
        tok = transformers.AutoTokenizer.from_pretrained(str(GGUF.parent), gguf_file=GGUF.name)
        doc = expected_for(tok, f"transformers AutoTokenizer built from {GGUF.name} (tokenizer.ggml.* metadata)")
        doc["gguf_file"] = GGUF.name
        (OUT / "smollm2_gguf.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    else:
        print(f"{GGUF} absent (run scripts/fetch-smollm2.sh): smollm2_gguf.json not written", file=sys.stderr)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
