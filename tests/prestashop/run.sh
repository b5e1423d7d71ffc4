#!/usr/bin/env bash
# Runs the PrestaShop integration suite (tests/prestashop) with the
# extension loaded, once per queue store; the exit code is 0 when every pass
# passed. PrestaShop's and the module's tables always live in MariaDB/MySQL
# (a private server is started when SHOPPINGFEED_TEST_MYSQL_URL is unset,
# even for the sqlite pass); SHOPPINGFEED_TEST_STORE says where the
# extension's queue lives.
#   tests/prestashop/run.sh                                  both stores (SQLite, then MySQL)
#   SHOPPINGFEED_TEST_STORE=sqlite tests/prestashop/run.sh   one store (sqlite|mysql|both)
#   tests/prestashop/run.sh --filter ModuleStandIn           PHPUnit options pass through
#   php tests/prestashop/selftest.php                        the stand-ins alone (needs the MariaDB env)
# Environment: SHOPPINGFEED_TEST_STORE (default both), SHOPPINGFEED_TEST_MYSQL_URL
# (a server of yours), SHOPPINGFEED_MARIADB_DIR (where the private server
# lives, default target/mariadb-prestashop-tests), SHOPPINGFEED_SYNC_EXT,
# SHOPPINGFEED_SANDBOX_BIN, PHPUNIT (default /usr/bin/phpunit), PHP,
# SHOPPINGFEED_KEEP_TMP=1 (keep the shop roots and queues).
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
sfsync_mysql_up "$ROOT" prestashop-tests || exit 1
status=0
echo "==> stand-ins self-test (tests/prestashop/selftest.php)"
if ! "${PHP:-php}" "$ROOT/tests/prestashop/selftest.php" >/dev/null; then
    echo "run.sh: selftest.php failed (run it alone to see the check)" >&2
    status=1
fi
sfsync_phpunit_passes "PHPUnit (PrestaShop stand-ins on MariaDB)" "$ROOT/tests/prestashop/phpunit.xml" "$@" || { code=$?; [ "$status" -eq 0 ] && status=$code; }
exit $status
