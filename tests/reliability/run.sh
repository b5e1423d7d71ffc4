#!/usr/bin/env bash
# The reliability suite: PHPUnit with the real extension, a real sandbox
# process on 127.0.0.1 and real SQLite files, then a summary of the figures.
#
#   bash tests/reliability/run.sh                        quick size (CI, ~3 min on 2 cores)
#   RELIABILITY_SIZE=full bash tests/reliability/run.sh  full size (by hand, ~20 min)
#   bash tests/reliability/run.sh --filter Crash         PHPUnit options pass through
#
# Environment: RELIABILITY_SIZE (quick|full), SHOPPINGFEED_SYNC_EXT (the .so),
# SHOPPINGFEED_SANDBOX_BIN (sf-sandbox), RELIABILITY_FIGURES (where the figures
# go, default target/reliability/figures-<size>.jsonl), PHPUNIT, PHP.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RELIABILITY_SIZE=${RELIABILITY_SIZE:-quick}
case "$RELIABILITY_SIZE" in
    quick|full) ;;
    *) echo "run.sh: RELIABILITY_SIZE must be quick or full, got '$RELIABILITY_SIZE'" >&2; exit 2 ;;
esac
SHOPPINGFEED_SYNC_EXT=${SHOPPINGFEED_SYNC_EXT:-$ROOT/target/release/libshoppingfeed_sync.so}
SHOPPINGFEED_SANDBOX_BIN=${SHOPPINGFEED_SANDBOX_BIN:-$ROOT/target/release/sf-sandbox}
RELIABILITY_FIGURES=${RELIABILITY_FIGURES:-$ROOT/target/reliability/figures-$RELIABILITY_SIZE.jsonl}
export RELIABILITY_SIZE SHOPPINGFEED_SYNC_EXT SHOPPINGFEED_SANDBOX_BIN RELIABILITY_FIGURES
for f in "$SHOPPINGFEED_SYNC_EXT" "$SHOPPINGFEED_SANDBOX_BIN"; do
    if [ ! -f "$f" ]; then
        echo "run.sh: $f not found (build it: cargo build --release --workspace)" >&2
        exit 1
    fi
done
mkdir -p "$(dirname "$RELIABILITY_FIGURES")"
: > "$RELIABILITY_FIGURES"
PHP=${PHP:-php}
echo "==> reliability suite ($RELIABILITY_SIZE size)"
start=$(date +%s)
status=0
"$PHP" -d extension="$SHOPPINGFEED_SYNC_EXT" "${PHPUNIT:-/usr/bin/phpunit}" \
    -c "$ROOT/tests/reliability/phpunit.xml" "$@" || status=$?
"$PHP" "$ROOT/tests/reliability/support/summary.php" "$RELIABILITY_FIGURES" || true
echo "==> reliability suite: $(( $(date +%s) - start )) s, figures in $RELIABILITY_FIGURES"
exit $status
