#!/usr/bin/env bash
# Runs every test: the Rust core and sandbox (cargo test), then the PHPUnit
# suites (tests/php, tests/prestashop) with the real extension loaded, against the real sandbox, on both
# queue stores (SQLite and a private MariaDB: SHOPPINGFEED_TEST_STORE=
# sqlite|mysql|both, default both).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Only when cargo is not on PATH already: ext-php-rs rebuilds whenever PATH
# changes, which costs minutes when scripts alternate.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export SHOPPINGFEED_TEST_STORE=${SHOPPINGFEED_TEST_STORE:-both}

echo "==> cargo test (core, sandbox; queue stores: $SHOPPINGFEED_TEST_STORE)"
if [ "$SHOPPINGFEED_TEST_STORE" != sqlite ] && [ -z "${SHOPPINGFEED_TEST_MYSQL_URL:-}" ]; then
  # A private server for the Rust tests of the MySQL store, stopped after
  # them (each PHP suite starts its own).
  export SHOPPINGFEED_MARIADB_DIR=$PWD/target/mariadb-cargo
  env_file=$(bash scripts/mariadb.sh start)
  trap 'bash scripts/mariadb.sh stop' EXIT
  (
    # shellcheck disable=SC1090
    . "$env_file"
    cargo test --release --workspace --quiet
  )
  bash scripts/mariadb.sh stop
  trap - EXIT
  unset SHOPPINGFEED_MARIADB_DIR
else
  cargo test --release --workspace --quiet
fi

echo "==> PHPUnit (extension loaded in PHP ${PHP_VERSION:-$(php -r 'echo PHP_VERSION;')})"
bash tests/php/run.sh

echo "==> PrestaShop integration suite (stand-ins of PrestaShop and of the Shopping Feed module 2.x on MariaDB; queue stores: $SHOPPINGFEED_TEST_STORE)"
bash tests/prestashop/run.sh

echo "==> reliability suite (size: ${RELIABILITY_SIZE:-quick}; full size by hand: RELIABILITY_SIZE=full)"
bash tests/reliability/run.sh

echo "==> PECL/PIE build in a clean copy (phpize, configure, make install), and the release archive"
bash scripts/test-install.sh
