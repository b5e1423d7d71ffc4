#!/usr/bin/env bash
# Runs the PHP suite with the extension loaded, once per queue store; the
# exit code is 0 when every pass passed.
#   tests/php/run.sh                                  both stores (SQLite, then MySQL)
#   SHOPPINGFEED_TEST_STORE=sqlite tests/php/run.sh   one store (sqlite|mysql|both)
#   tests/php/run.sh --filter BatchMode               PHPUnit options pass through
# Environment: SHOPPINGFEED_TEST_STORE (default both), SHOPPINGFEED_TEST_MYSQL_URL
# (a MySQL/MariaDB server of yours; unset: a private one is started with
# scripts/mariadb.sh and stopped at the end), SHOPPINGFEED_SYNC_EXT (the .so),
# SHOPPINGFEED_SANDBOX_BIN (sf-sandbox), SHOPPINGFEED_SANDBOX_URL (use a running
# sandbox), PHPUNIT (default /usr/bin/phpunit), PHP.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/php/support/stores.sh"
SHOPPINGFEED_SYNC_EXT=${SHOPPINGFEED_SYNC_EXT:-$ROOT/target/release/libshoppingfeed_sync.so}
SHOPPINGFEED_SANDBOX_BIN=${SHOPPINGFEED_SANDBOX_BIN:-$ROOT/target/release/sf-sandbox}
export SHOPPINGFEED_SYNC_EXT SHOPPINGFEED_SANDBOX_BIN
if [ ! -f "$SHOPPINGFEED_SYNC_EXT" ]; then
    echo "run.sh: $SHOPPINGFEED_SYNC_EXT not found (build it: cargo build --release)" >&2
    exit 1
fi
stores=$(sfsync_stores) || exit 2
case " $stores " in
    *" mysql "*) sfsync_mysql_up "$ROOT" php-tests || exit 1 ;;
esac
sfsync_phpunit_passes PHPUnit "$ROOT/tests/php/phpunit.xml" "$@"
