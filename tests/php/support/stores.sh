# Sourced by tests/php/run.sh, tests/prestashop/run.sh and tests/reliability/run.sh (bash): which
# queue stores a run covers (SHOPPINGFEED_TEST_STORE=sqlite|mysql|both) and
# the MySQL/MariaDB server of the mysql pass.

# Prints the stores to run, one pass each, in order.
sfsync_stores() {
    case "${SHOPPINGFEED_TEST_STORE:-both}" in
        sqlite) echo sqlite ;;
        mysql) echo mysql ;;
        both) echo sqlite mysql ;;
        *)
            echo "run.sh: SHOPPINGFEED_TEST_STORE must be sqlite, mysql or both, got '$SHOPPINGFEED_TEST_STORE'" >&2
            return 2
            ;;
    esac
}

# Makes SHOPPINGFEED_TEST_MYSQL_URL and _PASSWORD (and _SOCKET, _PORT when
# known) available to the tests. A URL set by the caller names a server of
# theirs and is used as it is. Otherwise a private server is started with
# scripts/mariadb.sh in a directory of this suite's own
# (SHOPPINGFEED_MARIADB_DIR, default target/mariadb-<suite>: never the
# target/mariadb a developer may be using) and stopped when run.sh exits.
sfsync_mysql_up() {
    local root=$1 suite=$2
    if [ -n "${SHOPPINGFEED_TEST_MYSQL_URL:-}" ]; then
        if [ -z "${SHOPPINGFEED_TEST_MYSQL_PASSWORD:-}" ]; then
            # The tests grep every output for the password: know it.
            SHOPPINGFEED_TEST_MYSQL_PASSWORD=$("${PHP:-php}" -r 'echo rawurldecode((string) parse_url(getenv("SHOPPINGFEED_TEST_MYSQL_URL"), PHP_URL_PASS));')
            export SHOPPINGFEED_TEST_MYSQL_PASSWORD
        fi
        return 0
    fi
    export SHOPPINGFEED_MARIADB_DIR=${SHOPPINGFEED_MARIADB_DIR:-$root/target/mariadb-$suite}
    echo "==> starting a private MariaDB for the mysql pass (scripts/mariadb.sh, $SHOPPINGFEED_MARIADB_DIR)"
    local env_file
    env_file=$(bash "$root/scripts/mariadb.sh" start) || return 1
    # shellcheck disable=SC1090
    . "$env_file"
    SFSYNC_MARIADB_ROOT=$root
    # This run owns that server: DatabaseRestartTest may crash and restart it.
    export SHOPPINGFEED_TEST_MYSQL_OWNED=1
    trap sfsync_mysql_down EXIT
    trap 'exit 130' INT TERM
}

sfsync_mysql_down() {
    if [ -n "${SFSYNC_MARIADB_ROOT:-}" ]; then
        bash "$SFSYNC_MARIADB_ROOT/scripts/mariadb.sh" stop || true
        SFSYNC_MARIADB_ROOT=
    fi
}

# Runs PHPUnit once per store with the extension loaded: sfsync_phpunit_passes
# <title> <phpunit.xml> [phpunit options...]. Prints a line per pass and a
# summary; returns the first failing pass's exit code (0 when all passed).
sfsync_phpunit_passes() {
    local title=$1 config=$2 store start code status=0 report=""
    shift 2
    for store in $stores; do
        echo "==> $title, queue store: $store"
        start=$(date +%s)
        code=0
        SHOPPINGFEED_TEST_STORE=$store "${PHP:-php}" -d extension="$SHOPPINGFEED_SYNC_EXT" \
            "${PHPUNIT:-/usr/bin/phpunit}" -c "$config" "$@" || code=$?
        [ "$code" -ne 0 ] && [ "$status" -eq 0 ] && status=$code
        report="$report  $store: $([ "$code" -eq 0 ] && echo passed || echo "FAILED (exit $code)") in $(( $(date +%s) - start )) s\n"
    done
    printf "==> %s by store\n%b" "$title" "$report"
    return $status
}
