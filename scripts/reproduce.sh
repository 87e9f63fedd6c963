#!/usr/bin/env bash
# The main command of README.md: installs what is missing, builds physrep in release mode and runs the
# study on simulated data (the embedded default). Extra arguments go to `physrep reproduce`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p physrep-cli
exec ./target/release/physrep reproduce --preset default --out runs/default "$@"
