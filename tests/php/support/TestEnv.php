<?php
/**
 * Paths and temporary folders of the test run, and the queue store the run
 * tests (SHOPPINGFEED_TEST_STORE=sqlite|mysql, one store a PHPUnit process:
 * tests/php/run.sh and tests/reliability/run.sh run the suite once per store).
 */
final class TestEnv
{
    /** @var list<string> MySQL table prefixes handed out by newQueueDatabase() (dropped at the end) */
    private static $prefixes = [];

    /** @var string */
    public static $root;
    /** @var string temp folder of this run (removed at the end) */
    public static $tmp;
    /** @var string the extension's .so (for child PHP processes) */
    public static $extension;
    /** @var int */
    private static $counter = 0;

    public static function moduleDir(): string
    {
        return self::$root . '/php/module/';
    }

    /** A new empty folder under the run's temp folder. */
    public static function newDir(string $label): string
    {
        $dir = self::$tmp . '/' . (++self::$counter) . '-' . substr(preg_replace('/[^A-Za-z0-9_-]+/', '_', $label), 0, 60);
        mkdir($dir, 0700, true);

        return $dir;
    }

    /**
     * The store under test: 'sqlite' (the default when PHPUnit is run
     * directly) or 'mysql' (the queue in the MariaDB/MySQL server named by
     * SHOPPINGFEED_TEST_MYSQL_URL). run.sh sets one value per pass.
     */
    public static function store(): string
    {
        return getenv('SHOPPINGFEED_TEST_STORE') === 'mysql' ? 'mysql' : 'sqlite';
    }

    public static function isMysql(): bool
    {
        return self::store() === 'mysql';
    }

    /**
     * Checks the store settings before any test runs; null when usable,
     * otherwise what is wrong (the bootstrap prints it and stops).
     */
    public static function storeProblem(): ?string
    {
        $store = getenv('SHOPPINGFEED_TEST_STORE');
        if (is_string($store) && !in_array($store, ['', 'sqlite', 'mysql'], true)) {
            return "SHOPPINGFEED_TEST_STORE must be sqlite or mysql for one PHPUnit process, got '$store' (run.sh accepts both)";
        }
        if (self::isMysql() && self::mysqlBaseUrl() === '') {
            return 'SHOPPINGFEED_TEST_STORE=mysql needs SHOPPINGFEED_TEST_MYSQL_URL (run.sh starts a private server: scripts/mariadb.sh start)';
        }

        return null;
    }

    /** The server of the MySQL runs, mysql://USER:PASSWORD@HOST:PORT/DBNAME, with no query ('' when unset). */
    public static function mysqlBaseUrl(): string
    {
        $url = (string) getenv('SHOPPINGFEED_TEST_MYSQL_URL');
        $q = strpos($url, '?');

        return $q === false ? $url : substr($url, 0, $q);
    }

    /**
     * A new, empty queue for one test (or one child process of a test):
     * a SQLite file "$dir/$name.sqlite" (sqlite runs: exactly what the tests
     * used before there were two stores), or the MySQL server's URL with a
     * prefix of its own (mysql runs: table t<hex>_shoppingfeed_order_sync_queue,
     * created by the extension on first use), so that no test sees another's rows.
     */
    public static function newQueueDatabase(string $dir, string $name = 'queue'): string
    {
        if (!self::isMysql()) {
            return $dir . '/' . $name . '.sqlite';
        }
        $prefix = 't' . bin2hex(random_bytes(5)) . '_';
        self::$prefixes[] = $prefix;

        return self::mysqlUrlWith(['prefix' => $prefix]);
    }

    /**
     * A table prefix stem of this run's own (t<hex>), for a test that makes
     * many queues: every prefix starting with it is dropped at the end.
     */
    public static function newQueuePrefixStem(): string
    {
        $stem = 't' . bin2hex(random_bytes(5));
        self::$prefixes[] = $stem;

        return $stem;
    }

    /**
     * The server's URL with these query parameters (a null value leaves
     * that parameter out): for tests that point the queue at another place.
     */
    public static function mysqlUrlWith(array $params, ?string $base = null): string
    {
        $url = $base ?? self::mysqlBaseUrl();
        $query = [];
        foreach ($params as $k => $v) {
            if ($v !== null) {
                $query[] = $k . '=' . $v; // prefixes and paths here need no escaping
            }
        }

        return $query ? $url . '?' . implode('&', $query) : $url;
    }

    /**
     * Secrets that no output may hold besides the API token: the database
     * password in mysql runs (SHOPPINGFEED_TEST_MYSQL_PASSWORD).
     *
     * @return array<string, string> label => secret
     */
    public static function storeSecrets(): array
    {
        $password = (string) getenv('SHOPPINGFEED_TEST_MYSQL_PASSWORD');
        if (!self::isMysql() || $password === '') {
            return [];
        }

        return ['the MySQL password' => $password];
    }

    /**
     * Drops the tables of the prefixes this run handed out (run at shutdown):
     * a server given by SHOPPINGFEED_TEST_MYSQL_URL is not filled up by
     * every run. Best effort; a table still locked is left.
     */
    public static function dropQueueTables(): void
    {
        if (!self::$prefixes || !self::isMysql()) {
            return;
        }
        try {
            $pdo = Queue::connectMysql(self::mysqlBaseUrl());
            $pdo->exec('SET SESSION lock_wait_timeout = 5');
            $ours = array_values(array_filter($pdo->query('SHOW TABLES')->fetchAll(PDO::FETCH_COLUMN), static function ($table) {
                foreach (self::$prefixes as $prefix) {
                    if (strpos((string) $table, $prefix) === 0) {
                        return true;
                    }
                }

                return false;
            }));
            // One statement a chunk: a DROP each would take seconds for a whole run.
            foreach (array_chunk($ours, 100) as $chunk) {
                $pdo->exec('DROP TABLE IF EXISTS ' . implode(', ', array_map(static function ($t) {
                    return '`' . str_replace('`', '', (string) $t) . '`';
                }, $chunk)));
            }
        } catch (Throwable $e) {
            fwrite(STDERR, 'note: the test tables were not all dropped: ' . self::redact($e->getMessage()) . "\n");
        }
        self::$prefixes = [];
    }

    /** A text with the store's secrets replaced, for messages the tests print themselves. */
    public static function redact(string $text): string
    {
        foreach (self::storeSecrets() as $secret) {
            $text = str_replace($secret, '[password]', $text);
        }

        return $text;
    }

    /**
     * The command line of a child PHP with the extension loaded and the
     * current queue/API INI settings.
     *
     * @return list<string>
     */
    public static function phpCommand(array $extraIni = []): array
    {
        $ini = [
            'shoppingfeed_sync.database' => (string) ini_get('shoppingfeed_sync.database'),
            'shoppingfeed_sync.api_url' => (string) ini_get('shoppingfeed_sync.api_url'),
            'shoppingfeed_sync.timeout_ms' => (string) ini_get('shoppingfeed_sync.timeout_ms'),
        ];
        $cmd = [PHP_BINARY, '-d', 'extension=' . self::$extension, '-d', 'display_errors=stderr'];
        foreach (array_merge($ini, $extraIni) as $name => $value) {
            $cmd[] = '-d';
            $cmd[] = self::iniArg($name, (string) $value);
        }

        return $cmd;
    }

    /**
     * "name=value" for php -d, the value in double quotes when the INI
     * parser would read it otherwise: php -d quotes only values that do not
     * start with a letter or digit, and unquoted, a mysql:// URL ends at the
     * '=' of its ?prefix= (and '&' is an operator).
     */
    public static function iniArg(string $name, string $value): string
    {
        if ($value === '' || preg_match('~^[A-Za-z0-9_./:@-]+$~', $value) || $value[0] === '"') {
            return $name . '=' . $value;
        }

        return $name . '="' . $value . '"';
    }

    /**
     * Runs a command, returns [exit code, stdout, stderr].
     *
     * @param list<string> $cmd
     */
    public static function run(array $cmd, array $env = [], float $timeout = 60.0): array
    {
        $process = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env ? array_merge(getenv(), $env) : null);
        if (!is_resource($process)) {
            throw new RuntimeException('cannot run ' . implode(' ', $cmd));
        }
        [$out, $err] = self::drain($pipes, $process, $timeout);
        $code = self::close($process);

        return [$code, $out, $err];
    }

    /**
     * Reads both pipes until the process ends (or the timeout kills it).
     *
     * @return array{0: string, 1: string}
     */
    public static function drain(array $pipes, $process, float $timeout): array
    {
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        $out = $err = '';
        $deadline = microtime(true) + $timeout;
        while (true) {
            $read = array_filter([$pipes[1], $pipes[2]], static function ($p) {
                return !feof($p);
            });
            if (!$read) {
                break;
            }
            if (microtime(true) > $deadline) {
                proc_terminate($process);
                break;
            }
            $w = $e = null;
            if (@stream_select($read, $w, $e, 0, 100000) > 0) {
                foreach ($read as $p) {
                    $chunk = (string) fread($p, 65536);
                    if ($p === $pipes[1]) {
                        $out .= $chunk;
                    } else {
                        $err .= $chunk;
                    }
                }
            }
        }
        fclose($pipes[1]);
        fclose($pipes[2]);

        return [$out, $err];
    }

    /** proc_close() that keeps the exit code even when proc_get_status() consumed it. */
    public static function close($process): int
    {
        $status = proc_get_status($process);
        $code = proc_close($process);
        if (!$status['running'] && $status['exitcode'] !== -1) {
            return $status['exitcode'];
        }

        return $code;
    }

    /**
     * A suite's bootstrap: starts the sandbox (exits 1 when it cannot),
     * points the extension at it, and at the end stops it, drops the
     * queue tables of the run and removes the temp folder (kept with
     * SHOPPINGFEED_KEEP_TMP).
     */
    public static function startSuiteSandbox(string $binary): void
    {
        try {
            Sandbox::start($binary, self::$tmp);
        } catch (RuntimeException $e) {
            fwrite(STDERR, "\n" . $e->getMessage() . "\n");
            self::removeTree(self::$tmp);
            exit(1);
        }
        ini_set('shoppingfeed_sync.api_url', Sandbox::url());
        register_shutdown_function(static function () {
            Sandbox::stop();
            self::dropQueueTables();
            if (!getenv('SHOPPINGFEED_KEEP_TMP')) {
                self::removeTree(self::$tmp);
            }
        });
    }

    public static function removeTree(string $dir): void
    {
        if (!is_dir($dir) || strpos($dir, sys_get_temp_dir()) !== 0) {
            return;
        }
        $items = new RecursiveIteratorIterator(
            new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS),
            RecursiveIteratorIterator::CHILD_FIRST
        );
        foreach ($items as $item) {
            $item->isDir() && !$item->isLink() ? @rmdir($item->getPathname()) : @unlink($item->getPathname());
        }
        @rmdir($dir);
    }
}
