#!/usr/bin/env bash
# Installs the Debian 12 packages tameq builds and tests with. Idempotent; needs root (or sudo).
set -euo pipefail
PKGS=(build-essential cmake pkg-config git nlohmann-json3-dev libsentencepiece-dev libpcre2-dev
      libopenblas-dev liblapacke-dev libcli11-dev libfmt-dev libgtest-dev libbenchmark-dev clang
      libclang-rt-14-dev chromium)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
