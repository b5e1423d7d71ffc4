#!/usr/bin/env bash
# A private MariaDB server for the tests, the demo and the benchmarks: its
# own data directory, unix socket and loopback port, never the system
# service, never a root password.
#
#   scripts/mariadb.sh start     initialise (fresh) and start; prints the env file
#   scripts/mariadb.sh stop      shut it down (data kept until the next start)
#   scripts/mariadb.sh restart   shut down and start again on the same data/port
#   scripts/mariadb.sh env       print the env file's path (the server must run)
#   scripts/mariadb.sh sql "..." run SQL as root on the private server
#
# The env file (sourced by the test scripts) defines:
#   SHOPPINGFEED_TEST_MYSQL_URL   mysql://sfsync:PASSWORD@127.0.0.1:PORT/sfsync_test
#   SHOPPINGFEED_TEST_MYSQL_SOCKET, SHOPPINGFEED_TEST_MYSQL_PORT,
#   SHOPPINGFEED_TEST_MYSQL_PASSWORD (random for each fresh start; tests grep
#   every output for it, as they do for the API token).
# Root logs in only through the socket, as the OS user that started it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BASE=${SHOPPINGFEED_MARIADB_DIR:-$ROOT/target/mariadb}
DATA=$BASE/data
ENV_FILE=$BASE/env
LOG=$BASE/mariadb.log
PID_FILE=$BASE/mariadb.pid

# A unix socket path must fit in 108 bytes: a deep checkout gets one in /tmp.
socket_path() {
  local s=$BASE/mysqld.sock
  if [ ${#s} -gt 100 ]; then
    s=/tmp/sfsync-mariadb-$(id -u)-$(printf '%s' "$BASE" | md5sum | cut -c1-8).sock
  fi
  printf '%s' "$s"
}
SOCKET=$(socket_path)

need_packages() {
  local missing=()
  for p in mariadb-server mariadb-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

root_sql() {
  mariadb --no-defaults --protocol=socket --socket="$SOCKET" -u root -N -B -e "$1"
}

running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

launch() {
  local port=$1
  local user_opt=()
  [ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
  # Durable like a production InnoDB (flush at every commit); small buffers
  # so that two servers fit on a test machine.
  mariadbd --no-defaults "${user_opt[@]}" \
    --datadir="$DATA" --socket="$SOCKET" --port="$port" --bind-address=127.0.0.1 \
    --pid-file="$PID_FILE" --log-error="$LOG" --skip-name-resolve \
    --innodb-buffer-pool-size=256M --innodb-log-file-size=128M \
    --innodb-flush-log-at-trx-commit=1 --max-connections=500 \
    --max-allowed-packet=64M --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    if mariadb-admin --no-defaults --protocol=socket --socket="$SOCKET" -u root ping >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "mariadb.sh: the server did not start; its log ($LOG):" >&2
  tail -20 "$LOG" >&2 || true
  exit 1
}

stop_server() {
  if running; then
    local pid
    pid=$(cat "$PID_FILE")
    mariadb-admin --no-defaults --protocol=socket --socket="$SOCKET" -u root shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
}

case "${1:-}" in
  start)
    need_packages
    stop_server
    rm -rf "$DATA"
    mkdir -p "$DATA"
    mariadb-install-db --no-defaults --datadir="$DATA" --auth-root-authentication-method=socket \
      --auth-root-socket-user="$(id -un)" --skip-test-db $([ "$(id -u)" -eq 0 ] && echo --user=root) \
      >"$BASE/install.log" 2>&1 || { tail -20 "$BASE/install.log" >&2; exit 1; }
    port=$(free_port)
    launch "$port"
    password="t$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    root_sql "CREATE DATABASE sfsync_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
      CREATE USER 'sfsync'@'127.0.0.1' IDENTIFIED BY '$password';
      CREATE USER 'sfsync'@'localhost' IDENTIFIED BY '$password';
      GRANT ALL ON \`sfsync\\_%\`.* TO 'sfsync'@'127.0.0.1';
      GRANT ALL ON \`sfsync\\_%\`.* TO 'sfsync'@'localhost';
      GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'sfsync'@'127.0.0.1';"
    cat >"$ENV_FILE" <<EOF
SHOPPINGFEED_TEST_MYSQL_URL='mysql://sfsync:$password@127.0.0.1:$port/sfsync_test'
SHOPPINGFEED_TEST_MYSQL_SOCKET='$SOCKET'
SHOPPINGFEED_TEST_MYSQL_PORT='$port'
SHOPPINGFEED_TEST_MYSQL_PASSWORD='$password'
export SHOPPINGFEED_TEST_MYSQL_URL SHOPPINGFEED_TEST_MYSQL_SOCKET SHOPPINGFEED_TEST_MYSQL_PORT SHOPPINGFEED_TEST_MYSQL_PASSWORD
EOF
    echo "$ENV_FILE"
    ;;
  stop)
    stop_server
    ;;
  restart)
    [ -f "$ENV_FILE" ] || { echo "mariadb.sh: never started (no $ENV_FILE)" >&2; exit 1; }
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    stop_server
    launch "$SHOPPINGFEED_TEST_MYSQL_PORT"
    ;;
  env)
    running || { echo "mariadb.sh: not running (scripts/mariadb.sh start)" >&2; exit 1; }
    echo "$ENV_FILE"
    ;;
  sql)
    root_sql "$2"
    ;;
  *)
    sed -n '2,18p' "$0" >&2
    exit 2
    ;;
esac
