#!/usr/bin/env bash
# Builds a real-English benchmark corpus: train.jsonl and held_out.jsonl, one document per line
# ({"text": ...}), with a fixed split by a hash of each file's path (so every machine gets the
# same split). Usage: scripts/corpus.sh python-docs DIR
#
#   python-docs  the reStructuredText sources of the Python 3.11 documentation, from Debian's
#                python3.11-doc package (apt-get download + dpkg -x; nothing is installed):
#                ~500 files, ~11 MB, of which about 1 in 10 (by path hash) is held out.
#
# Any other text works the same way: `neurogen train --data` and `evaluate --data` read .txt
# (a document per line), .jsonl (a "text" field per line), .jsonl.zst, directories and globs.
set -euo pipefail
usage() { echo "usage: $0 python-docs|python-docs-sample DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
name=$1 out=$2
case $name in python-docs | python-docs-sample) ;; *) echo "corpus.sh: unknown corpus '$name' (known: python-docs, python-docs-sample)" >&2; exit 2 ;; esac
command -v python3 >/dev/null || { echo "corpus.sh: needs python3 (to write JSON Lines)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3.11-doc >/dev/null 2>&1) \
  || { echo "corpus.sh: 'apt-get download python3.11-doc' failed (needs Debian bookworm's archive and a network)" >&2; exit 1; }
dpkg -x "$work"/python3.11-doc_*.deb "$work/x"
src="$work/x/usr/share/doc/python3.11/html/_sources"
[ -d "$src" ] || { echo "corpus.sh: $src is missing from the package" >&2; exit 1; }
python3 - "$src" "$out" "$name" <<'PY'
import hashlib, json, os, sys
src, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
paths = sorted(os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs)
n = {"train": [0, 0], "held_out": [0, 0]}
with open(os.path.join(out, "train.jsonl"), "w") as tr, open(os.path.join(out, "held_out.jsonl"), "w") as ho:
    for p in paths:
        with open(os.path.join(src, p), encoding="utf-8") as f:
            text = f.read()
        # The fixed split: a file is held out when the first byte of SHA-256(path) is below 26 (~10 %).
        digest = hashlib.sha256(p.encode()).digest()
        held = digest[0] < 26
        # The sample keeps ~4 % of the training files and ~8 % of the held-out ones (second byte).
        if name == "python-docs-sample" and digest[1] >= (20 if held else 10):
            continue
        split = "held_out" if held else "train"
        (ho if held else tr).write(json.dumps({"text": text, "path": p}, ensure_ascii=False) + "\n")
        n[split][0] += 1
        n[split][1] += len(text.encode())
for s, (files, size) in n.items():
    print(f"{s}: {files} files, {size} bytes -> {os.path.join(out, s + '.jsonl')}")
PY
