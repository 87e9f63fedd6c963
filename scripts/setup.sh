#!/usr/bin/env bash
# Installs the system packages physrep needs (libhdf5 + pkg-config) on Debian/Ubuntu, if missing.
# Idempotent: does nothing when they are already there.
set -euo pipefail
need=()
pkg-config --exists hdf5 2>/dev/null || [ -e /usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5.so ] || need+=(libhdf5-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  echo "physrep setup: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
