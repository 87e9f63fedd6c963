#!/usr/bin/env bash
# The test command of README.md: installs what is missing, runs the gates (formatting, clippy with
# warnings as errors, rustdoc with warnings as errors), then every test of the workspace.
# Tests read ../shared (fixtures) beside the checkout when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --workspace --tests --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked
cargo test --workspace --locked "$@"
