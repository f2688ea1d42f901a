#!/usr/bin/env bash
# The whole test suite on a fresh machine (this is what CI runs): set-up, then every test, Rust
# and Python.
# GPU backends run where a device exists; with NEUROGEN_GPU=1 a missing GPU backend fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# lavapipe wants a runtime directory; servers and CI often have none.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/neurogen-xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# NVRTC (CUDA's runtime compiler, a PyPI wheel) lets tests/shaders.rs compile every CUDA kernel
# on machines without a GPU. Best effort: without it that test skips with a note.
nvrtc="${NEUROGEN_NVRTC_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/neurogen/nvrtc}"
if [ ! -e "$nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12" ] && command -v python3 >/dev/null; then
  echo "test: fetching NVRTC (nvidia-cuda-nvrtc-cu12) so the CUDA kernels compile here" >&2
  python3 -m pip install -q --no-deps --target "$nvrtc" nvidia-cuda-nvrtc-cu12==12.9.86 >/dev/null 2>&1 \
    || echo "test: warning: could not fetch NVRTC; CUDA kernels will not be compiled" >&2
fi
[ -d "$nvrtc/nvidia/cuda_nvrtc/lib" ] && export LD_LIBRARY_PATH="$nvrtc/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cargo test --release --all-targets "$@"
# The Python binding (python/): built into a virtualenv with pip, reusing the build above, and
# tested against the CLI binary that build made.
NEUROGEN_BIN="$PWD/target/release/neurogen" scripts/test-python.sh
