<?php

/**
 * A MySQL/MariaDB queue that cannot be reached: nothing listens on the port,
 * a server accepts the connection but never answers, the database does not
 * exist, the server is stopped. Each time saveOrder (and every other call
 * that needs the queue) throws a clear ShoppingfeedSyncException within the
 * connect timeout, naming the setting, the host and the database, never the
 * password; the PHP process goes on, and the next call with a reachable
 * queue works. (A SQLite queue is a local file: BadInputTest covers the paths
 * that cannot hold one.)
 */
final class DatabaseUnreachableTest extends ReliabilityTestCase
{
    /** The bound the tests hold the store to (the store's connect timeout is 3 s). */
    const LIMIT_S = 10.0;

    /** @var resource|null a listening socket that never accepts */
    private $silent;

    protected function setUp(): void
    {
        parent::setUp();
        $this->onlyOn('mysql', 'a MySQL/MariaDB server that cannot be reached (a SQLite queue is a local file)');
    }

    protected function tearDown(): void
    {
        if (is_resource($this->silent)) {
            fclose($this->silent);
        }
        // A test that stopped the server leaves it running again.
        if (MariaDb::whyNotControllable() === null && !MariaDb::waitUp(0.5)) {
            MariaDb::restart();
        }
        parent::tearDown();
    }

    /** The test's queue URL with another port (or database). */
    private function urlWith(?int $port = null, ?string $dbname = null): string
    {
        $c = Queue::mysqlConfig($this->database);
        $url = $this->database;
        if ($port !== null) {
            $url = str_replace('@' . $c['host'] . ':' . $c['port'] . '/', '@' . $c['host'] . ':' . $port . '/', $url);
        }
        if ($dbname !== null) {
            $url = str_replace('/' . $c['dbname'] . '?', '/' . $dbname . '?', $url);
        }
        $this->assertNotSame($this->database, $url);

        return $url;
    }

    /**
     * Every call that needs the queue, against $url, in this process: each
     * must throw ShoppingfeedSyncException within LIMIT_S.
     *
     * @return array<string, array{0: Throwable|null, 1: float}> call => [what it threw, seconds]
     */
    private function callsAgainst(string $url): array
    {
        ini_set('shoppingfeed_sync.database', $url);
        $calls = [
            'saveOrder' => function () {
                return $this->actions($this->conveyor(['id_order' => 7001, 'order' => $this->snapshot(7001)]))->saveOrder();
            },
            'saveOrder in real time' => function () {
                return $this->actions($this->conveyor(['id_order' => 7002, 'order' => $this->snapshot(7002)], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']))->saveOrder();
            },
            'getBatch' => function () {
                return $this->actions($this->conveyor())->getBatch();
            },
            'find' => function () {
                return ShoppingfeedOrderSyncQueue::find(7001);
            },
            'counts' => function () {
                return ShoppingfeedOrderSyncQueue::counts(1);
            },
        ];
        $out = [];
        try {
            foreach ($calls as $what => $call) {
                $t0 = microtime(true);
                $thrown = null;
                try {
                    $call();
                } catch (Throwable $e) {
                    $thrown = $e;
                }
                $out[$what] = [$thrown, microtime(true) - $t0];
                if ($out[$what][1] >= self::LIMIT_S) {
                    break; // already too slow: the assertion will say so, without waiting for every call
                }
            }
        } finally {
            ini_set('shoppingfeed_sync.database', $this->database);
        }

        return $out;
    }

    /**
     * Asserts the refusals of callsAgainst(): the contract's exception, in
     * time, naming the setting, host (or socket) and database, never the
     * password. Returns the slowest call's seconds.
     */
    private function assertClearRefusals(array $results, string $case, string $where): float
    {
        $c = Queue::mysqlConfig($this->database);
        $slowest = 0.0;
        foreach ($results as $what => [$e, $seconds]) {
            $this->assertInstanceOf(ShoppingfeedSyncException::class, $e, "$case, $what: " . ($e ? get_class($e) . ': ' . TestEnv::redact($e->getMessage()) : 'no exception'));
            $this->assertNotInstanceOf(ShoppingfeedApiException::class, $e, "$case, $what: not an API failure");
            $message = $e->getMessage();
            $this->assertLessThan(self::LIMIT_S, $seconds, "$case, $what: refused within the connect timeout, took " . round($seconds, 2) . ' s');
            $this->assertStringContainsString('shoppingfeed_sync', $message, "$case, $what: names the queue setting: " . TestEnv::redact($message));
            $this->assertStringContainsString($where, $message, "$case, $what: names the host: " . TestEnv::redact($message));
            $this->assertStringContainsString($c['dbname'], $message, "$case, $what: names the database: " . TestEnv::redact($message));
            $this->assertNoStoreSecret($message . "\n" . $e->getTraceAsString() . "\n" . $e, "$case, $what");
            $slowest = max($slowest, $seconds);
        }

        return $slowest;
    }

    /** The process goes on: the next save with the reachable queue works. */
    private function assertTheQueueWorksAgain(int $idOrder): void
    {
        $this->save($idOrder, $this->snapshot($idOrder));
        $this->assertCount(1, ShoppingfeedOrderSyncQueue::find($idOrder), 'the queue works again in the same process');
    }

    /** The CLI cron against $url: a clear failure, no crash, no password. */
    private function cliAgainst(string $url): array
    {
        $t0 = microtime(true);
        [$code, $out, $err] = TestEnv::run(array_merge(
            TestEnv::phpCommand(['shoppingfeed_sync.database' => $url]),
            [TestEnv::$root . '/php/tools/bin/sync-orders.php', '--shop=1', '--store-id=' . self::STORE_ID, '--no-lock', '--json']
        ), ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN], 60);
        $seconds = microtime(true) - $t0;
        $this->assertContains($code, [1, 4], 'the cron says it failed (1: a shop in error, 4: configuration): ' . TestEnv::redact($out . $err));
        $this->assertNoStoreSecret($out . $err, 'the CLI cron\'s output');
        $this->assertStringContainsString(Queue::mysqlConfig($this->database)['dbname'], $out . $err, 'the cron names the database');
        $this->assertStringNotContainsString('panicked', $out . $err);

        return [$code, $seconds];
    }

    public function testNothingListeningOnThePortIsAClearExceptionAtOnce(): void
    {
        $this->assertTheQueueWorksAgain(1);
        $url = $this->urlWith(Proc::freePort());
        $slowest = $this->assertClearRefusals($this->callsAgainst($url), 'a closed port', Queue::mysqlConfig($this->database)['host']);
        $this->assertTheQueueWorksAgain(2);
        [$code, $cli] = $this->cliAgainst($url);
        $this->assertLessThan(self::LIMIT_S, $cli);
        Figures::record('database', 'queue server unreachable: nothing listens on the port', [
            'calls' => 5, 'exception' => 'ShoppingfeedSyncException', 'slowest_call_s' => round($slowest, 3), 'cli_exit' => $code, 'cli_s' => round($cli, 2), 'password_shown' => 0, 'process_fine' => true,
        ]);
    }

    public function testAServerThatNeverAnswersIsBoundedByTheConnectTimeout(): void
    {
        // A listening socket that is never accepted: the kernel completes the
        // TCP handshake, and the server greeting a client waits for never comes.
        $this->silent = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        $this->assertIsResource($this->silent, $errstr);
        $name = (string) stream_socket_get_name($this->silent, false);
        $port = (int) substr($name, strrpos($name, ':') + 1);
        $results = $this->callsAgainst($this->urlWith($port));
        $slowest = $this->assertClearRefusals($results, 'a silent server', Queue::mysqlConfig($this->database)['host']);
        $this->assertTheQueueWorksAgain(3);
        Figures::record('database', 'queue server accepts TCP but never answers', [
            'calls' => count($results),
            'seconds_each' => array_map(static function ($r) {
                return round($r[1], 2);
            }, array_values($results)),
            'slowest_call_s' => round($slowest, 2),
            'limit_s' => self::LIMIT_S,
            'password_shown' => 0,
        ]);
    }

    public function testADatabaseThatDoesNotExistIsNamed(): void
    {
        $results = $this->callsAgainst($this->urlWith(null, 'sfsync_no_such_db'));
        foreach ($results as $what => [$e]) {
            $this->assertInstanceOf(ShoppingfeedSyncException::class, $e, $what);
            $this->assertStringContainsString('sfsync_no_such_db', $e->getMessage(), "$what names the database");
            $this->assertNoStoreSecret((string) $e, $what);
        }
        $this->assertTheQueueWorksAgain(4);
        Figures::record('database', 'queue database does not exist', ['calls' => count($results), 'named' => true, 'password_shown' => 0]);
    }

    public function testAStoppedServerIsAClearExceptionAndTheQueueIsBackAfterItsRestart(): void
    {
        if (($why = MariaDb::whyNotControllable()) !== null) {
            $this->markTestSkipped($why);
        }
        $this->queueOrders(100, 5, self::SHIPPED);
        MariaDb::stop();
        $host = Queue::mysqlConfig($this->database)['host'];
        $tcp = $this->assertClearRefusals($this->callsAgainst($this->database), 'a stopped server (TCP)', $host);
        $socket = (string) getenv('SHOPPINGFEED_TEST_MYSQL_SOCKET');
        $bySocket = null;
        if ($socket !== '') {
            $url = TestEnv::mysqlUrlWith(['prefix' => Queue::mysqlConfig($this->database)['prefix'], 'socket' => $socket]);
            $bySocket = $this->assertClearRefusals($this->callsAgainst($url), 'a stopped server (unix socket)', $socket);
        }
        [$code, $cli] = $this->cliAgainst($this->database);
        $this->assertLessThan(self::LIMIT_S, $cli);

        // Started again: this process's next calls reconnect, the rows saved
        // before the stop are there, the queue drains.
        $restart = MariaDb::restart();
        $this->assertTheQueueWorksAgain(105);
        $this->assertSame(['pending' => 6, 'sent' => 0, 'done' => 0, 'failed' => 0], ShoppingfeedOrderSyncQueue::counts(1));
        $drain = $this->drain();
        $this->assertSame(0, $drain['pending'] + $drain['sent']);
        $this->assertSame(6, $this->sandboxAccount()['distinct']);
        Figures::record('database', 'queue server stopped (scripts/mariadb.sh stop), then started again', [
            'calls_refused' => 5 + ($bySocket === null ? 0 : 5),
            'slowest_tcp_s' => round($tcp, 3),
            'slowest_socket_s' => $bySocket === null ? null : round($bySocket, 3),
            'cli_exit' => $code,
            'restart_s' => round($restart, 2),
            'rows_before_stop_kept' => 5,
            'lost' => 0,
            'password_shown' => 0,
        ]);
    }
}
