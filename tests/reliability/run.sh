#!/usr/bin/env bash
# The reliability suite: PHPUnit with the real extension, a real sandbox
# process on 127.0.0.1 and real queues, once per queue store (SQLite files,
# then tables in a MySQL/MariaDB server), then a summary of the figures.
#
#   bash tests/reliability/run.sh                        quick size, both stores (CI)
#   RELIABILITY_SIZE=full bash tests/reliability/run.sh  full size (by hand)
#   SHOPPINGFEED_TEST_STORE=sqlite bash tests/reliability/run.sh   one store (sqlite|mysql|both)
#   bash tests/reliability/run.sh --filter Crash         PHPUnit options pass through
#
# Environment: RELIABILITY_SIZE (quick|full), SHOPPINGFEED_TEST_STORE (default
# both), SHOPPINGFEED_TEST_MYSQL_URL (a server of yours; unset: a private one is
# started with scripts/mariadb.sh and stopped at the end), SHOPPINGFEED_SYNC_EXT
# (the .so), SHOPPINGFEED_SANDBOX_BIN (sf-sandbox), RELIABILITY_FIGURES (where
# the figures go, default target/reliability/figures-<size>-<store>.jsonl; when
# set and both stores run, -<store> is added before .jsonl), PHPUNIT, PHP.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/php/support/stores.sh"
RELIABILITY_SIZE=${RELIABILITY_SIZE:-quick}
case "$RELIABILITY_SIZE" in
    quick|full) ;;
    *) echo "run.sh: RELIABILITY_SIZE must be quick or full, got '$RELIABILITY_SIZE'" >&2; exit 2 ;;
esac
SHOPPINGFEED_SYNC_EXT=${SHOPPINGFEED_SYNC_EXT:-$ROOT/target/release/libshoppingfeed_sync.so}
SHOPPINGFEED_SANDBOX_BIN=${SHOPPINGFEED_SANDBOX_BIN:-$ROOT/target/release/sf-sandbox}
export RELIABILITY_SIZE SHOPPINGFEED_SYNC_EXT SHOPPINGFEED_SANDBOX_BIN
for f in "$SHOPPINGFEED_SYNC_EXT" "$SHOPPINGFEED_SANDBOX_BIN"; do
    if [ ! -f "$f" ]; then
        echo "run.sh: $f not found (build it: cargo build --release --workspace)" >&2
        exit 1
    fi
done
stores=$(sfsync_stores) || exit 2
case " $stores " in
    *" mysql "*) sfsync_mysql_up "$ROOT" reliability || exit 1 ;;
esac
figures_given=${RELIABILITY_FIGURES:-}
PHP=${PHP:-php}
status=0
report=""
for store in $stores; do
    if [ -z "$figures_given" ]; then
        figures=$ROOT/target/reliability/figures-$RELIABILITY_SIZE-$store.jsonl
    elif [ "$stores" = "$store" ]; then
        figures=$figures_given
    else
        figures=${figures_given%.jsonl}-$store.jsonl
    fi
    mkdir -p "$(dirname "$figures")"
    : > "$figures"
    echo "==> reliability suite ($RELIABILITY_SIZE size, queue store: $store)"
    start=$(date +%s)
    code=0
    SHOPPINGFEED_TEST_STORE=$store RELIABILITY_FIGURES=$figures "$PHP" -d extension="$SHOPPINGFEED_SYNC_EXT" \
        "${PHPUNIT:-/usr/bin/phpunit}" -c "$ROOT/tests/reliability/phpunit.xml" "$@" || code=$?
    "$PHP" "$ROOT/tests/reliability/support/summary.php" "$figures" || true
    seconds=$(( $(date +%s) - start ))
    echo "==> reliability suite ($store): $seconds s, figures in $figures"
    [ "$code" -ne 0 ] && [ "$status" -eq 0 ] && status=$code
    report="$report  $store: $([ "$code" -eq 0 ] && echo passed || echo "FAILED (exit $code)") in $seconds s\n"
done
printf "==> reliability suite by store\n$report"
exit $status
