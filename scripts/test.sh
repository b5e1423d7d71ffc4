#!/usr/bin/env bash
# Runs every test: the Rust core and sandbox (cargo test), then the PHPUnit
# suites with the real extension loaded, against the real sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "==> cargo test (core, sandbox)"
cargo test --release --workspace --quiet

echo "==> PHPUnit (extension loaded in PHP ${PHP_VERSION:-$(php -r 'echo PHP_VERSION;')})"
bash tests/php/run.sh

echo "==> reliability suite (size: ${RELIABILITY_SIZE:-quick}; full size by hand: RELIABILITY_SIZE=full)"
bash tests/reliability/run.sh
