<?php

/**
 * The API token never shows: not in exception messages, not in the
 * conveyor's report, not in phpinfo(), not in the stored queue (the SQLite
 * files, or the MySQL table). In mysql runs the database password never
 * shows either: every text checked for the token is checked for it, and
 * phpinfo(), `php --ri` and the messages of a refused connection are too.
 */
final class SecurityTest extends SyncTestCase
{
    public function testTokenIsNeverInExceptionMessages(): void
    {
        $secret = 'tok-' . bin2hex(random_bytes(12));
        // One row per shop, so that each case below has a row of its own to claim.
        for ($shop = 1; $shop <= 5; $shop++) {
            $this->save($shop, $this->snapshot(100 + $shop, self::CANCELLED), ['id_shop' => $shop]);
        }
        $cases = [
            'rejected by the API' => [1, ['token' => $secret], null],
            'bad store id' => [2, ['token' => $secret, 'shoppingfeed_store_id' => 'x'], null],
            'bad action' => [3, ['token' => $secret, 'order_action' => 'bad action'], null],
            'bad setting' => [4, ['token' => $secret, 'settings' => ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => 'many']], null],
            'bad API URL' => [5, ['token' => $secret], 'http://api.example.com'],
        ];
        $messages = [];
        foreach ($cases as $what => [$shop, $extra, $url]) {
            if ($url !== null) {
                ini_set('shoppingfeed_sync.api_url', $url);
            }
            try {
                $this->send(['id_shop' => $shop] + $extra);
            } catch (ShoppingfeedSyncException $e) {
                $messages[$what] = (string) $e;
            } finally {
                ini_set('shoppingfeed_sync.api_url', Sandbox::url());
            }
        }
        $this->assertArrayHasKey('rejected by the API', $messages, 'a 403 throws');
        $this->assertGreaterThanOrEqual(4, count($messages), 'the calls above throw: ' . implode(', ', array_keys($messages)));
        foreach ($messages as $what => $message) {
            $this->assertStringNotContainsString($secret, $message, $what);
            $this->assertNoStoreSecret($message, $what);
        }
        // The token was really sent (the 403 came from it).
        $this->assertFalse(Sandbox::orderPosts()[0]['auth_ok'] ?? true);
    }

    public function testTokenIsNotInTheReportsOrRows(): void
    {
        $secret = 'tok-' . bin2hex(random_bytes(12));
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        Sandbox::faults([['kind' => 'status', 'status' => 503, 'count' => 10]]);
        try {
            $run = $this->send(['token' => $secret]);
            $report = json_encode(array_intersect_key($run['conveyor'], array_flip(['sent', 'succeeded', 'pending', 'failed', 'errors', 'batch', 'operations'])));
        } catch (ShoppingfeedSyncException $e) {
            $report = $e->getMessage();
        }
        $this->assertStringNotContainsString($secret, $report);
        $this->assertStringNotContainsString($secret, json_encode(ShoppingfeedOrderSyncQueue::find(1)), 'not in last_error');
        $this->assertNoStoreSecret($report . json_encode(ShoppingfeedOrderSyncQueue::find(1)), 'the report and the rows');
    }

    public function testTokenIsNotInPhpinfo(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED), [], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(1)['state'], 'the token was used');
        ob_start();
        phpinfo(INFO_MODULES);
        $info = (string) ob_get_clean();
        $this->assertStringContainsString('shoppingfeed_sync', $info, 'the extension has a phpinfo() section');
        $this->assertStringNotContainsString(self::TOKEN, $info);
        $this->assertNoStoreSecret($info, 'phpinfo() with the queue in use');
    }

    public function testTokenIsNotInTheStoredQueue(): void
    {
        Configuration::updateValue('SHOPPINGFEED_AUTH_TOKEN', self::TOKEN);
        for ($i = 1; $i <= 5; $i++) {
            $this->save($i, $this->snapshot(100 + $i, self::CANCELLED), [], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => $i % 2 ? '1' : '0']);
        }
        $this->sendAll();
        $this->checkAll();
        Sandbox::config(['reject_orders' => ['201' => 422]]);
        $this->save(6, $this->snapshot(201, self::CANCELLED));
        $this->sendAll();
        $this->assertSame(5, ShoppingfeedOrderSyncQueue::counts(1)['done']);

        // What is stored, byte for byte: the SQLite files (database, -wal,
        // -shm), or every column of every row of the MySQL table.
        $texts = array_filter($this->storedQueue()->storedTexts(), 'strlen');
        $this->assertNotEmpty($texts);
        $this->assertStringContainsString('TRK105', implode('', $texts), 'the stored queue is readable as it is');
        foreach ($texts as $label => $text) {
            $this->assertStringNotContainsString(self::TOKEN, $text, "$label holds no token");
            $this->assertNoStoreSecret($text, $label);
        }
    }

    /**
     * The password of a mysql:// queue never shows (the contract's "Where
     * the queue lives"): not in phpinfo(), not in `php --ri`, not in the
     * exception of a refused login (a wrong password: neither it nor the
     * real one) or of a server that is not there, which still name the
     * setting and where the queue was looked for.
     */
    public function testTheDatabasePasswordIsNeverShown(): void
    {
        $this->onlyOn('mysql', 'the password of a mysql:// queue');
        $password = (string) getenv('SHOPPINGFEED_TEST_MYSQL_PASSWORD');
        $this->assertNotSame('', $password, 'run.sh exports SHOPPINGFEED_TEST_MYSQL_PASSWORD');
        $this->assertStringContainsString($password, $this->database, 'the queue URL holds the password');
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        $texts = [];

        // The test's own environment holds the password (SHOPPINGFEED_TEST_MYSQL_*):
        // phpinfo()'s environment and variables sections are left out here,
        // and the child PHPs run without those variables. What is checked is
        // what the extension prints: its section and the INI values.
        ob_start();
        phpinfo(INFO_ALL & ~(INFO_ENVIRONMENT | INFO_VARIABLES));
        $texts['phpinfo()'] = (string) ob_get_clean();
        $this->assertStringContainsString('shoppingfeed_sync.database', $texts['phpinfo()']);
        $php = ['env', '-u', 'SHOPPINGFEED_TEST_MYSQL_URL', '-u', 'SHOPPINGFEED_TEST_MYSQL_PASSWORD', PHP_BINARY, '-d', 'extension=' . TestEnv::$extension, '-d', TestEnv::iniArg('shoppingfeed_sync.database', $this->database)];
        [$code, $out, $err] = TestEnv::run(array_merge($php, ['--ri', 'shoppingfeed_sync']));
        $this->assertSame(0, $code, TestEnv::redact($err));
        $texts['php --ri'] = $out . $err;
        $this->assertStringContainsString('shoppingfeed_sync.database', $out);
        [, $out, $err] = TestEnv::run(array_merge($php, ['-i']));
        $texts['php -i'] = $out . $err;
        $this->assertStringContainsString('sfsync_test', $out, 'php -i shows where the queue is');

        $c = Queue::mysqlConfig($this->database);
        $wrong = 'wrong-' . bin2hex(random_bytes(8));
        $places = [
            'a wrong password' => str_replace(':' . rawurlencode($c['password']) . '@', ':' . $wrong . '@', $this->database),
            'a closed port' => str_replace(':' . $c['port'] . '/', ':' . self::closedPort() . '/', $this->database),
        ];
        foreach ($places as $what => $url) {
            $this->assertNotSame($this->database, $url, $what);
            ini_set('shoppingfeed_sync.database', $url);
            try {
                $this->actions($this->conveyor(['id_order' => 2, 'order' => $this->snapshot(102, self::CANCELLED)]))->saveOrder();
                $this->fail("$what: saveOrder succeeded");
            } catch (ShoppingfeedSyncException $e) {
                $texts[$what] = get_class($e) . ': ' . $e->getMessage() . "\n" . $e;
                $this->assertStringContainsString($c['host'], $e->getMessage(), "$what: the message names the host");
                $this->assertStringContainsString($c['dbname'], $e->getMessage(), "$what: and the database");
                $this->assertStringNotContainsString($wrong, $texts[$what], "$what: never the password given");
            } finally {
                ini_set('shoppingfeed_sync.database', $this->database);
            }
        }
        foreach ($texts as $label => $text) {
            $this->assertNoStoreSecret($text, $label);
        }
        $this->assertCount(1, ShoppingfeedOrderSyncQueue::find(1), 'the queue works again with the right URL');
    }

    /** A loopback port nothing listens on (bound, then released). */
    private static function closedPort(): int
    {
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        $name = (string) stream_socket_get_name($server, false);
        fclose($server);

        return (int) substr($name, strrpos($name, ':') + 1);
    }

    public function testExceptionMessagesAreBoundedForHugeInput(): void
    {
        $conveyor = $this->conveyor(['id_order' => 1, 'order' => $this->snapshot(101, self::CANCELLED), 'order_action' => str_repeat('x', 100000)]);
        try {
            $this->actions($conveyor)->saveOrder();
            $this->fail('a 100 kB action name was accepted');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertLessThan(4096, strlen($e->getMessage()), 'the message does not echo the whole input');
            $this->assertStringContainsString('order_action', $e->getMessage());
        }
    }
}
