<?php

/**
 * Two web servers, one queue: two PHP-FPM masters, each with a php.ini of
 * its own naming the same MySQL/MariaDB queue, save order updates at the
 * same time (the same orders, some at the same instant from both), while a
 * cron on each server (the real CLI runner, started with that server's
 * php.ini) drains the queue against the sandbox. Nothing is lost, nothing is
 * sent twice, and the latest update of each order is the one that wins.
 */
final class MultiServerTest extends ReliabilityTestCase
{
    const WORKERS = 4;
    /** Orders a request saves. */
    const CHUNK = 10;
    /**
     * Versions of each order saved one after the other (after the
     * concurrent first one): shipped with a new tracking number, then the
     * last one delivered (another operation, so the API executes it whatever
     * it did with the shipments; its answer says "ignored" to a second
     * shipment of an order).
     */
    const VERSIONS = 3;

    /** @var array<string, FpmServer> */
    private $fpm = [];

    protected function setUp(): void
    {
        parent::setUp();
        $this->onlyOn('mysql', 'two web servers share one queue through a database server; a SQLite queue is a file on one machine');
        if (($missing = FpmServer::missing()) !== null) {
            $this->fail($missing);
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->fpm as $server) {
            $server->stop();
        }
        $this->fpm = [];
        parent::tearDown();
    }

    /** The php.ini of one web server: the extension and where its queue and API are. */
    private function serverIni(string $name): array
    {
        return [
            'extension' => TestEnv::$extension,
            'shoppingfeed_sync.database' => $this->database,
            'shoppingfeed_sync.api_url' => Sandbox::url(),
            'shoppingfeed_sync.timeout_ms' => '2000',
            'memory_limit' => '128M',
            'display_errors' => 'stderr',
            'log_errors' => '1',
            'error_log' => $this->dir . "/$name/cli-errors.log",
        ];
    }

    /** One cron run on a server: the CLI runner under that server's php.ini. */
    private function startCron(string $name, int $run, array $settings): Proc
    {
        $cmd = array_merge(
            [PHP_BINARY, '-c', $this->fpm[$name]->dir . '/php.ini', TestEnv::$root . '/php/tools/bin/sync-orders.php',
                '--shop=1', '--store-id=' . self::STORE_ID, '--no-lock', '--json', '--time-budget=30'],
            $this->cliSets($settings)
        );

        return Proc::start($cmd, $this->fpm[$name]->dir, "cron-$run", ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
    }

    /**
     * Reads the accepted order POSTs since $seq (while the test runs: the
     * sandbox keeps the bodies of its last 2,000 requests): shipments by
     * tracking number, deliveries by order, and each order's last element
     * in the order the API received them.
     */
    private static function collect(int &$seq, array &$shipped, array &$delivered, array &$last): void
    {
        foreach (Sandbox::request('GET', '/_sandbox/log?since=' . $seq)['requests'] ?? [] as $entry) {
            $seq = max($seq, (int) $entry['seq']);
            if (($entry['method'] ?? '') !== 'POST' || ($entry['status'] ?? null) !== 202 || strpos((string) $entry['path'], '/order/') === false) {
                continue;
            }
            $body = is_string($entry['body']) ? json_decode($entry['body'], true) : $entry['body'];
            if (!is_array($body)) {
                throw new RuntimeException('the sandbox no longer holds the body of request ' . $entry['seq']);
            }
            $operation = (string) $entry['operation'];
            foreach ($body['order'] as $el) {
                $id = (int) $el['id'];
                if ($operation === 'ship') {
                    $shipped[$el['trackingNumber']] = ($shipped[$el['trackingNumber']] ?? 0) + 1;
                    $last[$id] = 'ship ' . $el['trackingNumber'];
                } else {
                    $delivered[$id] = ($delivered[$id] ?? 0) + 1;
                    $last[$id] = $operation;
                }
            }
        }
    }

    public function testTwoWebServersAndTheirCronsShareOneQueue(): void
    {
        $orders = Size::pick(1000, 10000);
        $parallel = 2 * self::WORKERS;
        $settings = [
            'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => (string) Size::pick(20, 50),
            'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0',
        ];
        Sandbox::config(['latency_ms' => 5, 'ticket_delay_ms' => 50]);
        // The queue is not created beforehand: the first requests of both
        // servers and their crons meet on a queue that does not exist yet.
        $workers = [];
        foreach (['A', 'B'] as $name) {
            $this->fpm[$name] = FpmServer::start($name, $this->dir . "/$name", $this->serverIni($name), self::WORKERS);
            $workers[$name] = $this->fpm[$name]->workers();
        }

        // The plan: chunks of CHUNK orders. Step 0 saves a chunk from both
        // servers at the same moment (two requests started together, tags A
        // and B, version 1, shipped); steps 1..VERSIONS save version step+1
        // from one server, alternating, each only after the previous step of
        // the chunk was acknowledged; the last step delivers: the order's
        // latest update.
        $chunks = array_chunk(range(500001, 500000 + $orders), self::CHUNK);
        $next = array_keys($chunks);          // chunks waiting for their next step
        $step = array_fill(0, count($chunks), 0);
        $inFlight = [];                       // [Proc, server, chunk, step]
        $waiting = [];                        // chunk => requests of its step still running
        $latest = [];                         // order => tracking of its latest acknowledged save
        $acked = 0;
        $requests = ['A' => 0, 'B' => 0];
        $pids = ['A' => [], 'B' => []];
        $concurrentPairs = 0;

        $cron = ['A' => null, 'B' => null];
        $cronRuns = 0;
        $cronSent = ['A' => 0, 'B' => 0];
        $cronErrors = [];
        $cronOutputs = '';
        $seq = 0;
        $shipped = [];
        $delivered = [];
        $lastAtApi = [];
        $doublePending = [];
        $lastRead = 0.0;
        $t0 = microtime(true);
        $deadline = $t0 + Size::pick(300, 1800);
        while (true) {
            if (microtime(true) > $deadline) {
                $this->fail('the two servers did not settle in time: ' . json_encode($this->queue()->counts()));
            }
            // Web requests: start the next steps while there is room.
            while ($next && count($inFlight) < $parallel - 1) {
                $c = array_shift($next);
                $s = $step[$c];
                $ids = implode(',', $chunks[$c]);
                $servers = $s === 0 ? ['A', 'B'] : [($c + $s) % 2 ? 'A' : 'B'];
                foreach ($servers as $name) {
                    $query = 'orders=' . $ids . '&v=' . ($s + 1) . '&tag=' . $name . '&state=' . ($s === self::VERSIONS ? self::DELIVERED : self::SHIPPED);
                    $inFlight[] = [$this->fpm[$name]->request('save-many.php', $query), $name, $c, $s];
                    $requests[$name]++;
                }
                $waiting[$c] = count($servers);
                $concurrentPairs += $s === 0 ? count($chunks[$c]) : 0;
            }
            foreach ($inFlight as $k => [$p, $name, $c, $s]) {
                if ($p->running()) {
                    continue;
                }
                unset($inFlight[$k]);
                $answer = FpmServer::answer($p);
                $this->assertSame([], $answer['errors'] ?? ['no JSON: ' . ($answer['raw'] ?? '')], "server $name, chunk $c step $s: " . TestEnv::redact(json_encode($answer)));
                $this->assertSame($chunks[$c], $answer['acknowledged'], "server $name acknowledged every save of chunk $c step $s");
                $acked += count($answer['acknowledged']);
                $pids[$name][$answer['pid']] = true;
                if ($s > 0) {
                    foreach ($chunks[$c] as $id) {
                        $latest[$id] = "$name-$id-" . ($s + 1);
                    }
                }
                if (--$waiting[$c] === 0 && $s < self::VERSIONS) {
                    $step[$c] = $s + 1;
                    $next[] = $c;
                }
            }
            $writing = $next || $inFlight;

            // The crons: one per server, started again as soon as one ends,
            // until the servers are done and the queue is settled.
            $settled = false;
            if (!$writing) {
                $counts = $this->queue()->counts();
                $settled = $counts['pending'] + $counts['sent'] === 0;
            }
            $busy = false;
            foreach ($cron as $name => $p) {
                if ($p !== null && $p->running()) {
                    $busy = true;
                    continue;
                }
                if ($p !== null) {
                    $code = $p->wait(5);
                    $cronOutputs .= $p->stdout() . $p->stderr();
                    $this->assertSame(0, $code, "cron on $name: exit $code " . TestEnv::redact($p->stderr() . $p->stdout()));
                    $summary = json_decode($p->stdout(), true);
                    $this->assertIsArray($summary, TestEnv::redact($p->stdout() . $p->stderr()));
                    foreach ($summary['summary'] as $shop) {
                        $this->assertSame('done', $shop['status'], TestEnv::redact(json_encode($shop)));
                        $cronSent[$name] += (int) $shop['sent'];
                        foreach ($shop['error_messages'] as $m) {
                            $cronErrors[] = "$name: $m";
                        }
                    }
                    $this->assertSame('', trim($p->stderr()), "the cron on $name wrote nothing to stderr");
                    $cron[$name] = null;
                }
                if (!$settled) {
                    $cron[$name] = $this->startCron($name, ++$cronRuns, $settings);
                    $busy = true;
                }
            }
            if (microtime(true) - $lastRead > 0.5) {
                self::collect($seq, $shipped, $delivered, $lastAtApi);
                // At no moment does an order have two unclaimed pending rows:
                // a save from one server and one from the other meet on one row.
                if ($this->queue()->tables()) {
                    foreach ($this->queue()->rows("state = 'pending' AND locked_by IS NULL AND id_order IN (SELECT id_order FROM {queue} WHERE state = 'pending' AND locked_by IS NULL GROUP BY id_order HAVING COUNT(*) > 1)") as $row) {
                        $doublePending[(int) $row['id_order']] = true;
                    }
                }
                $lastRead = microtime(true);
            }
            if ($settled && !$busy) {
                break;
            }
            usleep(2000);
        }
        self::collect($seq, $shipped, $delivered, $lastAtApi);
        $seconds = microtime(true) - $t0;

        $this->assertSame([], array_keys($doublePending), 'no order ever had two unclaimed pending rows');
        $this->assertSame($orders * (2 + self::VERSIONS), $acked, 'every save was acknowledged');
        foreach (['A', 'B'] as $name) {
            $this->assertGreaterThanOrEqual(2, count($pids[$name]), "several workers of server $name served");
            $this->assertGreaterThan(0, $cronSent[$name], "the cron on server $name sent rows too (claims are shared, not owned)");
        }
        $this->assertSame([], $cronErrors, 'no cron error');

        // Latest wins, nothing lost, nothing sent twice.
        $twice = array_keys(array_filter($shipped, static function ($n) {
            return $n > 1;
        }));
        foreach ($delivered as $id => $n) {
            if ($n > 1) {
                $twice[] = "deliver $id";
            }
        }
        $this->assertSame([], $twice, 'no snapshot sent twice');
        $rows = $this->queue()->rows();
        $counts = $this->queue()->counts();
        $this->assertSame(0, $counts['pending'] + $counts['sent'] + $counts['failed'], json_encode($counts));
        $newest = [];
        $superseded = 0;
        $shipmentsSent = 0;
        foreach ($rows as $row) {
            $payload = json_decode($row['payload'], true);
            $newest[(int) $row['id_order']] = $payload['tracking_number']; // rows come in id order: the last one is the newest
            $sentRow = (int) $payload['id_order_state'] === self::DELIVERED ? isset($delivered[(int) $row['id_order']]) : isset($shipped[$payload['tracking_number']]);
            $shipmentsSent += $sentRow && (int) $payload['id_order_state'] === self::SHIPPED ? 1 : 0;
            if (!$sentRow) {
                $superseded++;
                $this->assertStringStartsWith('superseded', (string) $row['last_error'], "row {$row['id_shoppingfeed_order']} was neither sent nor superseded");
            }
        }
        $lost = 0;
        $notLastAtApi = [];
        foreach ($latest as $id => $tracking) {
            $this->assertSame($tracking, $newest[$id] ?? null, "order $id: its latest save is its newest row");
            $lost += isset($delivered[$id]) ? 0 : 1;
            if (($lastAtApi[$id] ?? null) !== 'deliver') {
                $notLastAtApi[$id] = $lastAtApi[$id] ?? null;
            }
        }
        $this->assertCount($orders, $latest);
        $this->assertSame(0, $lost, 'every order\'s latest update (its delivery) reached the API');
        $this->assertSame([], $notLastAtApi, 'the API received each order\'s latest update last (no older shipment after it)');
        $stats = Sandbox::stats();
        $this->assertSame(0, (int) $stats['duplicates'], 'the API executed no operation twice');
        $this->assertSame('ok', $this->queue()->integrity());

        $logs = '';
        foreach ($this->fpm as $name => $server) {
            $logs .= $server->logs() . @file_get_contents($this->dir . "/$name/cli-errors.log");
            $this->assertSame($workers[$name], $server->workers(), "server $name: the workers forked at start are all alive (none crashed)");
            $this->assertSame([], array_diff(array_keys($pids[$name]), $workers[$name]), "server $name: only those workers answered");
        }
        $this->assertSame([], preg_grep('/SIGSEGV|exited on signal|Fatal|panicked|ShoppingfeedSyncException/i', explode("\n", $logs)), 'the servers logged no error');
        $this->assertNoSecret(self::TOKEN, ['server logs' => $logs, 'cron outputs' => $cronOutputs], 'the servers and the crons');

        Figures::record('multi-server', 'two php-fpm servers (own php.ini) + a cron on each, one MySQL queue', [
            'servers' => 2,
            'workers_per_server' => self::WORKERS,
            'orders' => $orders,
            'saves' => $acked,
            'saves_by_server' => [$requests['A'] * self::CHUNK, $requests['B'] * self::CHUNK],
            'same_order_saved_by_both_at_once' => $concurrentPairs,
            'crons' => 2,
            'cron_runs' => $cronRuns,
            'rows_sent_by_cron' => [$cronSent['A'], $cronSent['B']],
            'rows' => count($rows),
            'shipments_sent' => $shipmentsSent,
            'deliveries_sent' => count($delivered),
            'superseded_unsent' => $superseded,
            'lost' => $lost,
            'sent_twice' => count($twice),
            'latest_not_last_at_api' => count($notLastAtApi),
            'api_duplicates' => (int) $stats['duplicates'],
            'seconds' => round($seconds, 1),
        ]);
    }
}
