#!/usr/bin/env bash
# One-time set-up on a fresh machine: a Vulkan driver for wgpu. Where no Vulkan driver is
# installed (CI, servers without a GPU), installs Mesa's software rasteriser lavapipe. Where
# python3 cannot make a virtualenv (Debian and Ubuntu ship that apart), installs python3-venv for
# the Python binding's tests.
set -euo pipefail
has_icd() {
  for f in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/nvidia/share/vulkan/icd.d/*.json; do
    [ -e "$f" ] && return 0
  done
  return 1
}
apt_install() {
  command -v apt-get >/dev/null || return 0
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "$@" >/dev/null; }
}
if ! has_icd; then
  echo "setup: no Vulkan driver found; installing mesa-vulkan-drivers (lavapipe)" >&2
  apt_install mesa-vulkan-drivers
fi
has_icd || echo "setup: warning: still no Vulkan driver; --backend wgpu will report that no adapter exists" >&2
if command -v python3 >/dev/null && ! python3 -c "import ensurepip, venv" 2>/dev/null; then
  echo "setup: python3 cannot make a virtualenv; installing python3-venv" >&2
  apt_install python3-venv
fi
