"""Writes crates/arpo-tools/tests/fixtures/search_cache_slice.json: 20 entries of the reference
search_cache.json (query -> result text), chosen deterministically to cover plain queries, queries
with the "search query: " prefix, non-ASCII text and short/long answers.

Usage: python3 scripts/tools/make_cache_slice.py /work/shared/corpus/search_cache.json
"""
import json
import sys
from pathlib import Path


def main() -> None:
    cache = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    keys = sorted(cache)
    prefixed = [k for k in keys if k.startswith("search query:")][:5]
    non_ascii = [k for k in keys if any(ord(c) > 127 for c in k + cache[k])][:5]
    shortest = sorted(keys, key=lambda k: (len(cache[k]), k))[:3]
    plain = [k for k in keys if k not in prefixed + non_ascii + shortest][::97][:7]
    chosen = sorted(set(prefixed + non_ascii + shortest + plain))
    out = Path(__file__).resolve().parents[2] / "crates/arpo-tools/tests/fixtures/search_cache_slice.json"
    out.write_text(json.dumps({k: cache[k] for k in chosen}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(chosen)} entries to {out}")


if __name__ == "__main__":
    main()
