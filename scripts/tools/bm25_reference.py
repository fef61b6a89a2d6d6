"""Independent BM25 reference for arpo-tools' tantivy index (tests/search_fixture.rs).

Scores the fixture corpus with the Lucene/tantivy BM25 formula written out by hand:
  idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
  score    = sum over distinct query terms t of idf(t) * (k1 + 1) * tf / (tf + k1 * (1 - b + b * dl / avgdl))
  k1 = 1.2, b = 0.75, dl = tokens in the document, avgdl = mean dl,
over one field "title\\ntext", with the same analysis as tantivy's `en_stem`: split on
non-alphanumeric characters, drop tokens of 40+ bytes, lower-case, Snowball English stemmer (the
`snowballstemmer` package, the official Snowball Python build). tantivy stores document lengths
quantised to one byte, so its scores differ slightly for long documents; the test allows for that.

Usage: python3 -m venv /tmp/tools-venv && /tmp/tools-venv/bin/pip install snowballstemmer==3.1.1
       /tmp/tools-venv/bin/python scripts/tools/bm25_reference.py
Writes crates/arpo-tools/tests/fixtures/bm25_reference.json.
"""
import json
import math
from collections import Counter
from pathlib import Path

import snowballstemmer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates/arpo-tools/tests/fixtures"
K1, B = 1.2, 0.75
QUERIES = [
    "Who painted the Mona Lisa?",
    "capital city of Germany",
    "theory of relativity physicist",
    "largest and deepest ocean",
    "who discovered penicillin",
    "highest mountain above sea level",
    "Shakespeare tragedy about a Danish prince",
    "the red planet",
    "board game played by two players",
    "plants convert light energy",
    "wall built across northern China",
    "marsupial native to Australia",
    "Nobel Prize radioactivity research",
    "alternating current inventor",
]

STEMMER = snowballstemmer.stemmer("english")


def analyze(text):
    tokens, current = [], []
    for ch in text + " ":
        if ch.isalnum():
            current.append(ch)
        elif current:
            tokens.append("".join(current))
            current = []
    tokens = [t for t in tokens if len(t.encode("utf-8")) < 40]
    return STEMMER.stemWords([t.lower() for t in tokens])


def main():
    docs = [json.loads(line) for line in (FIXTURES / "wiki_fixture.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    analyzed = [analyze(d["title"] + "\n" + d["text"]) for d in docs]
    n = len(docs)
    avgdl = sum(len(a) for a in analyzed) / n
    df = Counter(t for a in analyzed for t in set(a))
    out = {}
    for query in QUERIES:
        terms = sorted(set(analyze(query)))
        scores = []
        for doc, tokens in zip(docs, analyzed):
            tf = Counter(tokens)
            dl = len(tokens)
            score = 0.0
            for t in terms:
                if tf[t] == 0:
                    continue
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * (K1 + 1) * tf[t] / (tf[t] + K1 * (1 - B + B * dl / avgdl))
            if score > 0:
                scores.append((score, doc["id"]))
        scores.sort(key=lambda s: (-s[0], s[1]))
        out[query] = [[doc_id, round(score, 6)] for score, doc_id in scores[:10]]
    path = FIXTURES / "bm25_reference.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(out)} queries to {path}")


if __name__ == "__main__":
    main()
