#!/usr/bin/env bash
# One-time set-up on a fresh machine: a Vulkan driver for wgpu. Where no Vulkan driver is
# installed (CI, servers without a GPU), installs Mesa's software rasteriser lavapipe.
set -euo pipefail
has_icd() {
  for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/nvidia/share/vulkan/icd.d/*.json; do
    [ -e "$f" ] && return 0
  done
  return 1
}
if ! has_icd && command -v apt-get >/dev/null; then
  echo "setup: no Vulkan driver found; installing mesa-vulkan-drivers (lavapipe)" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq mesa-vulkan-drivers >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq mesa-vulkan-drivers >/dev/null; }
fi
has_icd || echo "setup: warning: still no Vulkan driver; --backend wgpu will report that no adapter exists" >&2
