#!/usr/bin/env bash
# The test command of README.md: installs what is missing, then runs every test of the workspace.
# Tests read ../shared (fixtures) beside the checkout when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --locked "$@"
