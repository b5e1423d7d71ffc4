#!/usr/bin/env bash
# The habits CI enforces before any test runs (after scripts/setup.sh, which
# installs PHP and the build tools):
#   - Rust formatted as `cargo fmt` writes it;
#   - no clippy warning in any crate or target of the workspace;
#   - every PHP file of the project parses (`php -l`).
# Exit code: 0 when all three hold; the first that fails stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only when cargo is not on PATH already: ext-php-rs rebuilds whenever PATH
# changes, which costs minutes when scripts alternate.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (workspace, all targets, warnings are errors)"
cargo clippy --release --workspace --all-targets --quiet -- -D warnings

echo "==> php -l (php/, stubs/, tests/, bench/)"
bad=0
count=0
while IFS= read -r -d '' f; do
    count=$((count + 1))
    if ! out=$(php -l "$f" 2>&1); then
        echo "$out" >&2
        bad=$((bad + 1))
    fi
done < <(find php stubs tests bench -name '*.php' -print0)
if [ "$bad" -ne 0 ]; then
    echo "php -l: $bad of $count files do not parse" >&2
    exit 1
fi
echo "    $count PHP files parse"
