#!/bin/sh
# Runs the PHP suite with the extension loaded; the exit code is PHPUnit's.
#   tests/php/run.sh                      the whole suite
#   tests/php/run.sh --filter BatchMode   PHPUnit options pass through
# Environment: SHOPPINGFEED_SYNC_EXT (the .so), SHOPPINGFEED_SANDBOX_BIN (sf-sandbox),
# SHOPPINGFEED_SANDBOX_URL (use a running sandbox), PHPUNIT (default /usr/bin/phpunit).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHOPPINGFEED_SYNC_EXT=${SHOPPINGFEED_SYNC_EXT:-$ROOT/target/release/libshoppingfeed_sync.so}
SHOPPINGFEED_SANDBOX_BIN=${SHOPPINGFEED_SANDBOX_BIN:-$ROOT/target/release/sf-sandbox}
export SHOPPINGFEED_SYNC_EXT SHOPPINGFEED_SANDBOX_BIN
if [ ! -f "$SHOPPINGFEED_SYNC_EXT" ]; then
    echo "run.sh: $SHOPPINGFEED_SYNC_EXT not found (build it: cargo build --release)" >&2
    exit 1
fi
exec "${PHP:-php}" -d extension="$SHOPPINGFEED_SYNC_EXT" "${PHPUNIT:-/usr/bin/phpunit}" -c "$ROOT/tests/php/phpunit.xml" "$@"
