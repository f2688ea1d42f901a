#!/usr/bin/env bash
# The whole test suite on a fresh machine (this is what CI runs): set-up, then every test.
# GPU backends run where a device exists; with NEUROGEN_GPU=1 a missing GPU backend fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# lavapipe wants a runtime directory; servers and CI often have none.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/neurogen-xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
cargo test --release --all-targets "$@"
