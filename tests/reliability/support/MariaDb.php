<?php
/**
 * The MySQL/MariaDB server of a mysql run, as the database tests need it:
 * restart, stop, crash it (only the private server of scripts/mariadb.sh),
 * list and KILL the extension's connections, find the connections of one
 * process.
 *
 * The private server lives in SHOPPINGFEED_MARIADB_DIR (default
 * target/mariadb; run.sh uses target/mariadb-<suite> when it starts one);
 * it is this run's server when its env file names the same server as
 * SHOPPINGFEED_TEST_MYSQL_URL. Another server (a URL of the caller's) is
 * never restarted: those tests skip, saying why.
 */
final class MariaDb
{
    public static function dir(): string
    {
        return getenv('SHOPPINGFEED_MARIADB_DIR') ?: TestEnv::$root . '/target/mariadb';
    }

    /** The variables of the private server's env file (empty when there is none). */
    private static function envFile(): array
    {
        $text = @file_get_contents(self::dir() . '/env');
        $out = [];
        if (is_string($text) && preg_match_all("/^(SHOPPINGFEED_TEST_MYSQL_\\w+)='([^']*)'$/m", $text, $m, PREG_SET_ORDER)) {
            foreach ($m as [, $name, $value]) {
                $out[$name] = $value;
            }
        }

        return $out;
    }

    /**
     * Null when the run's server is the private one of scripts/mariadb.sh
     * (so a test may restart or stop it); otherwise why a test cannot.
     */
    public static function whyNotControllable(): ?string
    {
        if (!TestEnv::isMysql()) {
            return 'not a mysql run';
        }
        $env = self::envFile();
        if (($env['SHOPPINGFEED_TEST_MYSQL_URL'] ?? null) !== TestEnv::mysqlBaseUrl()) {
            return 'the server of SHOPPINGFEED_TEST_MYSQL_URL is not the private one of scripts/mariadb.sh in '
                . self::dir() . ' (set SHOPPINGFEED_MARIADB_DIR, or leave SHOPPINGFEED_TEST_MYSQL_URL unset so that run.sh starts one): it is not restarted by tests';
        }

        return null;
    }

    /**
     * True when run.sh started the private server for this run
     * (SHOPPINGFEED_TEST_MYSQL_OWNED=1): only then may a test SIGKILL it.
     */
    public static function ownedByThisRun(): bool
    {
        return self::whyNotControllable() === null && getenv('SHOPPINGFEED_TEST_MYSQL_OWNED') === '1';
    }

    /**
     * Runs scripts/mariadb.sh with the run's SHOPPINGFEED_MARIADB_DIR.
     *
     * @return array{0: int, 1: string, 2: string}
     */
    public static function script(array $args, float $timeout = 120.0): array
    {
        return TestEnv::run(array_merge(['bash', TestEnv::$root . '/scripts/mariadb.sh'], $args), ['SHOPPINGFEED_MARIADB_DIR' => self::dir()], $timeout);
    }

    /** `scripts/mariadb.sh restart`: shut down, start again on the same data and port. Returns the seconds it took. */
    public static function restart(): float
    {
        $t0 = microtime(true);
        [$code, $out, $err] = self::script(['restart']);
        if ($code !== 0) {
            throw new RuntimeException("scripts/mariadb.sh restart failed ($code): $out $err");
        }

        return microtime(true) - $t0;
    }

    /** `scripts/mariadb.sh stop` (data kept; restart() starts it again). */
    public static function stop(): void
    {
        [$code, $out, $err] = self::script(['stop']);
        if ($code !== 0) {
            throw new RuntimeException("scripts/mariadb.sh stop failed ($code): $out $err");
        }
    }

    public static function serverPid(): int
    {
        return (int) trim((string) @file_get_contents(self::dir() . '/mariadb.pid'));
    }

    /**
     * SIGKILLs the server (a crash: no shutdown, InnoDB recovers at the next
     * start) and waits until it is gone. Only for a server this run started.
     */
    public static function crash(): void
    {
        if (!self::ownedByThisRun()) {
            throw new LogicException('only a server started by this run may be killed');
        }
        $pid = self::serverPid();
        if ($pid <= 0 || !posix_kill($pid, 9)) {
            throw new RuntimeException("cannot SIGKILL the server (pid $pid)");
        }
        $deadline = microtime(true) + 10;
        while (file_exists("/proc/$pid") && microtime(true) < $deadline) {
            usleep(10000);
        }
    }

    /**
     * SQL on the server: as root through the private server's socket
     * (scripts/mariadb.sh sql) when it is this run's server, otherwise as the
     * test user (who has PROCESS and CONNECTION ADMIN). Returns the rows as
     * lists of strings.
     *
     * @return list<list<string>>
     */
    public static function sql(string $sql): array
    {
        if (self::whyNotControllable() === null) {
            [$code, $out, $err] = self::script(['sql', $sql], 30);
            if ($code !== 0) {
                throw new RuntimeException("root SQL failed ($code): $err");
            }
            $rows = [];
            foreach (explode("\n", rtrim($out, "\n")) as $line) {
                if ($line !== '') {
                    $rows[] = explode("\t", $line);
                }
            }

            return $rows;
        }
        $st = Queue::connectMysql(TestEnv::mysqlBaseUrl())->query($sql);

        return $st->columnCount() > 0 ? array_map(static function ($r) {
            return array_map('strval', $r);
        }, $st->fetchAll(PDO::FETCH_NUM)) : [];
    }

    /**
     * The server's connections of a user: id, client host:port, database,
     * command, seconds in it.
     *
     * @return list<array{id: int, host: string, db: string, command: string, time: int}>
     */
    public static function connections(string $user = 'sfsync'): array
    {
        $out = [];
        foreach (self::sql("SELECT ID, HOST, IFNULL(DB, ''), COMMAND, TIME FROM information_schema.PROCESSLIST WHERE USER = '" . addslashes($user) . "' ORDER BY ID") as $r) {
            $out[] = ['id' => (int) $r[0], 'host' => $r[1], 'db' => $r[2], 'command' => $r[3], 'time' => (int) $r[4]];
        }

        return $out;
    }

    /**
     * The server connections of one local process: those whose client port
     * is a TCP socket of that process connected to the server's port (from
     * /proc/PID/fd and /proc/net/tcp). For a child of this test process,
     * the sockets it inherited from it (proc_open() passes PHP's own
     * descriptors on: the test's reader connection, say) are not its own.
     *
     * @return list<int> connection ids
     */
    public static function connectionsOf(int $pid): array
    {
        $serverPort = Queue::mysqlConfig(TestEnv::mysqlBaseUrl())['port'];
        $ports = Proc::tcpClientPorts($pid, $serverPort);
        if ($pid !== getmypid()) {
            $ports = array_values(array_diff($ports, Proc::tcpClientPorts(getmypid(), $serverPort)));
        }
        $ids = [];
        foreach (self::connections() as $c) {
            if (preg_match('/:(\d+)$/', $c['host'], $m) && in_array((int) $m[1], $ports, true)) {
                $ids[] = $c['id'];
            }
        }

        return $ids;
    }

    /**
     * KILL CONNECTION from the server side (what a DBA, wait_timeout or a
     * failover does); false when the connection was already gone.
     */
    public static function kill(int $id): bool
    {
        try {
            self::sql('KILL CONNECTION ' . $id);

            return true;
        } catch (RuntimeException | PDOException $e) {
            return false;
        }
    }

    /** Waits until the server accepts a login again. */
    public static function waitUp(float $timeout = 30.0): bool
    {
        $deadline = microtime(true) + $timeout;
        while (microtime(true) < $deadline) {
            try {
                Queue::connectMysql(TestEnv::mysqlBaseUrl(), 2)->query('SELECT 1');

                return true;
            } catch (PDOException $e) {
                usleep(100000);
            }
        }

        return false;
    }
}
