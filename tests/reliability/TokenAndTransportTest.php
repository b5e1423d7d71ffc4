<?php

/**
 * Security: the API token never comes out (exceptions, traces, conveyor
 * reports, rows, the stored queue, logs, phpinfo(), the CLI's output), even
 * from a hostile server that echoes it everywhere; in mysql runs neither
 * does the database password (every text is grepped for both); http:// is refused for
 * hosts that are not loopback; TLS certificates are verified (a self-signed
 * one is refused unless the process trusts it).
 */
final class TokenAndTransportTest extends ReliabilityTestCase
{
    /**
     * Runs a chain and collects every text it produced: returns, reports,
     * exception messages and traces.
     */
    private function collect(callable $run, array &$texts, string $label): void
    {
        try {
            $result = $run();
            // The conveyor holds the caller's own token under 'token' (given, not produced): drop it.
            array_walk_recursive($result, static function (&$v, $k) {
                if ($k === 'token') {
                    $v = '(the caller\'s token)';
                }
            });
            $texts["$label: result"] = print_r($result, true);
        } catch (Throwable $e) {
            $texts["$label: exception"] = get_class($e) . ' ' . $e->getMessage() . "\n" . $e->getTraceAsString() . "\n" . $e;
        }
    }

    public function testTheTokenNeverLeaks(): void
    {
        $token = 'sfTOK' . bin2hex(random_bytes(20));
        $texts = [];
        $errorLog = $this->dir . '/php-errors.log';
        $oldLog = ini_set('error_log', $errorLog);
        $oldLogErrors = ini_set('log_errors', '1');
        Sandbox::config(['tokens' => [$token, self::TOKEN]]);
        $conveyor = function (array $extra = [], array $settings = []) use ($token) {
            return $this->conveyor(['token' => $token] + $extra, $settings);
        };
        $send = function (array $settings = []) use ($conveyor) {
            return $this->chain(['getBatch', 'prepareBatch', 'sendBatch'], $conveyor([], $settings));
        };
        $check = function () use ($conveyor) {
            return $this->chain(['getBatch', 'checkTickets'], $conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS]));
        };
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '2'];

        // 1. The sandbox: messages that quote the token (failed/canceled tickets), faults, a refused token.
        $this->queueOrders(1000, 12, null, $settings);
        Sandbox::config([
            'fail_orders' => ['1001' => "tracking refused, token $token"],
            'cancel_orders' => ['1002' => "canceled for $token"],
            'reject_orders' => ['1003' => 422],
        ]);
        Sandbox::faults([
            ['kind' => 'status', 'status' => 500, 'count' => 1, 'on' => 'order'],
            ['kind' => 'drop', 'count' => 1, 'on' => 'order'],
            ['kind' => 'malformed', 'count' => 1, 'on' => 'order'],
        ]);
        for ($i = 0; $i < 6; $i++) {
            $this->collect(function () use ($send, $settings) {
                return $send($settings);
            }, $texts, "sandbox send $i");
            $this->collect($check, $texts, "sandbox check $i");
            $this->queue()->makeDue();
        }
        // A token refused by the API (403): the exception names no token.
        Sandbox::config(['tokens' => [self::TOKEN]]);
        $this->save(1600, $this->snapshot(1600));
        $this->collect(function () use ($send) {
            return $send();
        }, $texts, 'refused token');
        $this->assertStringContainsString('ShoppingfeedApiException', $texts['refused token: exception'] ?? '', 'a refused token stops the run');
        // Real time with the refused token: saveOrder still returns true, the report names no token.
        $this->collect(function () use ($conveyor) {
            $a = $this->actions($conveyor(['id_order' => 1601, 'order' => $this->snapshot(1601)], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']));
            $a->saveOrder();

            return $a->getConveyor()['errors'] ?? [];
        }, $texts, 'real time refused');
        // A token with a line break (cannot be an HTTP header).
        $this->collect(function () use ($token) {
            return $this->chain(['getBatch', 'prepareBatch', 'sendBatch'], $this->conveyor(['token' => "$token\r\nX-Injected: 1"]));
        }, $texts, 'token with CRLF');

        // 2. A hostile server that echoes the token in everything it answers.
        [$url, $modeFile] = $this->hostileServer();
        ini_set('shoppingfeed_sync.api_url', $url);
        foreach (['reject400', 'error500', 'unauthorized', 'redirect', 'ignored', 'garbage', 'tickets_failed'] as $n => $mode) {
            file_put_contents($modeFile, $mode);
            $this->queueOrders(1000 + 10 * ($n + 10), 3, self::SHIPPED, $settings);
            $this->queue()->makeDue();
            $this->collect(function () use ($send, $settings) {
                return $send($settings);
            }, $texts, "hostile $mode send");
            $this->queue()->makeDue();
            $this->collect($check, $texts, "hostile $mode check");
            foreach (ShoppingfeedOrderSyncQueue::find(1000 + 10 * ($n + 10)) as $row) {
                $texts["hostile $mode row"] = print_r($row, true);
            }
        }
        $this->assertStringContainsString('Shopping Feed refused the API token', $texts['hostile unauthorized send: exception'] ?? '');
        $log = (string) file_get_contents($modeFile . '.log');
        $this->assertStringContainsString('POST /v1/store/42/order/ship reject400', $log, 'the hostile server was really asked');

        // 3. The CLI with the token in its environment, against the hostile server.
        foreach (['reject400', 'error500', 'unauthorized'] as $mode) {
            file_put_contents($modeFile, $mode);
            $this->queue()->makeDue();
            [$code, $out, $err] = TestEnv::run(
                array_merge($this->cronCommand(), ['--api-url=' . $url]),
                ['SHOPPINGFEED_AUTH_TOKEN' => $token]
            );
            $texts["cli $mode (exit $code)"] = $out . $err;
        }
        ini_set('shoppingfeed_sync.api_url', Sandbox::url());

        // 4. phpinfo(), dumps of a used Actions object.
        ob_start();
        // In mysql runs the test's own environment holds the password
        // (SHOPPINGFEED_TEST_MYSQL_*): the sections that print the
        // environment are the test's, not the extension's, and left out.
        phpinfo(TestEnv::isMysql() ? INFO_ALL & ~(INFO_ENVIRONMENT | INFO_VARIABLES) : INFO_ALL);
        $texts['phpinfo'] = ob_get_clean();
        $a = $this->actions($conveyor());
        $a->getBatch();
        ob_start();
        var_dump($a);
        $texts['var_dump(actions)'] = ob_get_clean();
        $texts['print_r(actions)'] = print_r($a, true);
        $texts['var_export(actions)'] = var_export($a, true);
        $texts['json_encode(actions)'] = (string) json_encode($a);
        $texts['(array) actions'] = print_r((array) $a, true);
        try {
            $texts['serialize(actions)'] = serialize($a);
        } catch (Throwable $e) {
            $texts['serialize(actions)'] = get_class($e) . ' ' . $e->getMessage();
        }

        // 5. The queue: rows through the API, and what is stored (the raw
        // SQLite files: database, WAL, shared memory; or every column of the
        // MySQL table, and its tablespace file when the server's data
        // directory is readable here).
        for ($id = 1000; $id < 1200; $id++) {
            foreach (ShoppingfeedOrderSyncQueue::find($id) as $row) {
                $texts["find($id)"] = print_r($row, true);
            }
        }
        $texts += $this->queue()->storedTexts();
        if (TestEnv::isMysql() && MariaDb::whyNotControllable() === null) {
            // The table's pages written to its file first (root's session
            // ends at once, which releases the export lock).
            $dbname = Queue::mysqlConfig($this->database)['dbname'];
            MariaDb::sql("FLUSH TABLES `$dbname`.`{$this->queue()->table()}` FOR EXPORT");
            $file = MariaDb::dir() . "/data/$dbname/{$this->queue()->table()}.ibd";
            $this->assertFileExists($file);
            $texts['file ' . basename($file)] = (string) file_get_contents($file);
        }
        $texts['sandbox log'] = json_encode(Sandbox::log());
        ini_set('error_log', $oldLog === false ? '' : $oldLog);
        ini_set('log_errors', $oldLogErrors === false ? '0' : $oldLogErrors);
        $texts['error_log'] = (string) @file_get_contents($errorLog);

        $this->assertGreaterThan(40, count($texts));
        $this->assertNoSecret($token, $texts, 'token grep');
        // The rows really carry the servers' messages, redacted.
        $joined = implode("\n", $texts);
        $this->assertStringContainsString('[token redacted]', $joined, 'messages quoting the token are kept, redacted');
        Figures::record('security', 'token grep (sandbox + hostile echo server + CLI + phpinfo + dumps + queue files)', [
            'texts_checked' => count($texts),
            'bytes_checked' => strlen($joined),
            'hostile_modes' => 7,
            'token_found' => 0,
        ]);
    }

    public function testHttpIsRefusedForHostsThatAreNotLoopback(): void
    {
        $port = (int) parse_url(Sandbox::url(), PHP_URL_PORT);
        $refused = [
            'http://api.shopping-feed.com',
            "http://10.0.0.1:$port",
            "http://0.0.0.0:$port",
            'http://192.168.1.10',
            "http://[::ffff:10.0.0.1]:$port",
            "http://localhost.evil.example:$port",
            "http://127.0.0.1.nip.io:$port",
            "http://user:secret@127.0.0.1:$port",
            "ftp://127.0.0.1:$port",
            'file:///etc/passwd',
            "gopher://127.0.0.1:$port",
            'javascript:alert(1)',
            'not a url',
            "https://127.0.0.1:$port/?q=1",
        ];
        $this->queueOrders(1000, 3, self::SHIPPED);
        foreach ($refused as $url) {
            ini_set('shoppingfeed_sync.api_url', $url);
            Sandbox::clearLog();
            $t0 = microtime(true);
            try {
                $this->chain(['getBatch', 'prepareBatch', 'sendBatch'], $this->conveyor([], ['SHOPPINGFEED_ORDER_STATUS_LEASE_TIME' => '1']));
                $this->fail("$url was accepted");
            } catch (ShoppingfeedSyncException $e) {
                $this->assertStringContainsString('shoppingfeed_sync.api_url', $e->getMessage(), $url);
            }
            $this->assertLessThan(0.5, microtime(true) - $t0, "$url: refused before any connection");
            $this->assertSame([], Sandbox::apiRequests(), "$url: nothing reached the network");
            // The refused run's claim would end with its lease: release it for the next URL.
            $this->queue()->exec('UPDATE {queue} SET locked_by = NULL, locked_until = NULL');
        }
        // Real time with a refused URL: the merchant's request goes on, the update waits.
        ini_set('shoppingfeed_sync.api_url', 'http://shop.example.com');
        $c = $this->save(2000, $this->snapshot(2000), [], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']);
        $this->assertStringContainsString('shoppingfeed_sync.api_url', implode(' ', $c['errors'] ?? []));
        $this->assertSame('pending', ShoppingfeedOrderSyncQueue::find(2000)[0]['state']);

        // Loopback hosts are accepted (the sandbox listens on 127.0.0.1 only: others are refused connections, an outage).
        $accepted = ["http://127.0.0.1:$port", "http://localhost:$port", "HTTP://127.0.0.1:$port/", "http://127.0.0.2:$port", "http://[::1]:$port"];
        foreach ($accepted as $url) {
            ini_set('shoppingfeed_sync.api_url', $url);
            $this->queue()->makeDue();
            $run = $this->send();
            $this->assertNotSame('sendBatch', $run['stopped'], $url);
        }
        Figures::record('security', 'http:// for hosts that are not loopback', ['refused_urls' => count($refused), 'accepted_loopback_urls' => count($accepted), 'requests_leaked' => 0]);
    }

    public function testTlsCertificatesAreVerified(): void
    {
        $cert = $this->dir . '/cert.pem';
        $key = $this->dir . '/key.pem';
        [$code, , $err] = TestEnv::run([
            'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
            '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE',
            '-keyout', $key, '-out', $cert,
        ]);
        $this->assertSame(0, $code, "openssl: $err");
        $port = Proc::freePort();
        $server = Proc::start([PHP_BINARY, __DIR__ . '/fixtures/tls-server.php', (string) $port, $cert, $key], $this->dir, 'tls');
        $this->servers[] = $server;
        $this->assertTrue(Proc::waitForPort($port), 'the TLS server did not start: ' . $server->stderr());

        // Not trusted: the handshake fails, nothing is sent, the rows wait (an outage).
        foreach (["https://127.0.0.1:$port", "https://localhost:$port"] as $url) {
            ini_set('shoppingfeed_sync.api_url', $url);
            $this->queueOrders(1000, 3, self::SHIPPED);
            $this->queue()->makeDue();
            $run = $this->send();
            $this->assertSame([], $run['conveyor']['sent'] ?? [], $url);
            $this->assertStringContainsString('TLS failure', implode(' ', $run['conveyor']['errors'] ?? []), $url);
        }
        usleep(100000);
        $log = $server->stdout();
        $this->assertStringContainsString('handshake-failed', $log);
        $this->assertStringNotContainsString('request ', $log, 'no request went over an unverified connection');

        // Trusted by the process (SSL_CERT_FILE names the certificate): the same server is accepted.
        $db = TestEnv::newQueueDatabase($this->dir, 'trusted');
        [$code, $out, $err] = TestEnv::run(
            array_merge(TestEnv::phpCommand(['shoppingfeed_sync.database' => $db, 'shoppingfeed_sync.api_url' => "https://localhost:$port"]), [__DIR__ . '/fixtures/tls-send.php']),
            ['SSL_CERT_FILE' => $cert]
        );
        $this->assertSame(0, $code, $err);
        $result = json_decode($out, true);
        $this->assertIsArray($result, $out . $err);
        $this->assertSame([1, 2, 3], $result['sent'], $out);
        $this->assertSame(['tls-batch'], $result['batch_ids']);
        usleep(100000);
        $this->assertStringContainsString('request POST /v1/store/42/order/ship', $server->stdout());
        Figures::record('security', 'TLS: self-signed certificate', ['untrusted' => 'refused (TLS failure, rows wait)', 'trusted_via_SSL_CERT_FILE' => 'accepted']);
    }
}
