#!/usr/bin/env bash
# The benchmarks (not part of the test run): installs and builds like the
# tests (scripts/setup.sh), then runs every workload of the extension and of
# its plain-PHP baselines side by side against the local sandbox, prints a
# table and writes docs/BENCHMARKS.md. A few minutes with the issue's sizes.
#
#   scripts/bench.sh                      saveOrder x 100,000, drain of 100,000, ...
#   BENCH_SCALE=small scripts/bench.sh    a quick run (10,000)
#   BENCH_OUT=- scripts/bench.sh          print only, leave docs/BENCHMARKS.md alone
#
# Other knobs (BENCH_SAVE_N, BENCH_DRAIN_N, BENCH_SCALES, BENCH_BATCH,
# BENCH_LATENCY_MS, ...) are listed at the top of bench/run.php.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Only when cargo is not on PATH already: ext-php-rs rebuilds whenever PATH
# changes, which costs minutes when scripts alternate.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
# The MySQL store's figures need a server: a private MariaDB for the run
# (scripts/mariadb.sh), unless BENCH_MYSQL_URL names one or BENCH_MYSQL=0.
if [ "${BENCH_MYSQL:-1}" != 0 ] && [ -z "${BENCH_MYSQL_URL:-}" ]; then
  export SHOPPINGFEED_MARIADB_DIR=$PWD/target/mariadb-bench
  env_file=$(bash scripts/mariadb.sh start)
  trap 'bash scripts/mariadb.sh stop' EXIT
  # shellcheck disable=SC1090
  . "$env_file"
  export BENCH_MYSQL_URL=$SHOPPINGFEED_TEST_MYSQL_URL
fi
echo "==> benchmarks (BENCH_SCALE=${BENCH_SCALE:-default})"
php bench/run.php
