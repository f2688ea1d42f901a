#!/usr/bin/env bash
# The Python binding's tests: builds python/ into a virtualenv (target/python-venv, reused when
# present) with pip, as a user installs it, and runs pytest on the CPU backend. scripts/test.sh
# runs it after the Rust suite, whose build it reuses (python/ shares the workspace's target/).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${NEUROGEN_VENV:-$PWD/target/python-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# maturin's build backend runs `maturin`, so the virtualenv's bin goes first on PATH.
export PATH="$venv/bin:$PATH"
python -m pip install -q --disable-pip-version-check "maturin>=1.9.4,<2" numpy pytest tqdm
python -m pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./python
# The CLI the round-trip tests run: NEUROGEN_BIN (scripts/test.sh passes the one `cargo test`
# just built; a plain build would rebuild the engine without the tests' dependency features).
if [ -z "${NEUROGEN_BIN:-}" ]; then
  cargo build --release --bin neurogen
  export NEUROGEN_BIN="$PWD/target/release/neurogen"
fi
python -m pytest -q python/tests "$@"
