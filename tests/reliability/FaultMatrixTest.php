<?php

/**
 * The fault matrix against the sandbox: every fault the API (or the network)
 * can throw at a run, each many times, with the figures recorded. In every
 * case: no update is lost (every row ends done, or failed only for an
 * order-specific failure), an outage never makes a row fail, and the attempt
 * counter and the backoff behave as the contract says.
 *
 * The engine's unit tests (core/tests/engine.rs) check each rule once; this
 * suite repeats the faults in bursts, through PHP, and counts.
 */
final class FaultMatrixTest extends ReliabilityTestCase
{
    /** Bursts per fault kind. */
    private static function reps(): int
    {
        return Size::pick(8, 40);
    }

    /**
     * Queues orders, injects the faults, drains the queue, and checks that
     * nothing was lost and no row failed. Returns the figures.
     */
    private function outageScenario(string $what, array $faults, int $orders, array $settings = [], array $config = []): array
    {
        $ids = array_keys($this->queueOrders(1000, $orders, null, $settings));
        if ($config) {
            Sandbox::config($config);
        }
        Sandbox::faults($faults);
        $t0 = microtime(true);
        $drain = $this->drain($settings, 200);
        $seconds = microtime(true) - $t0;

        $counts = $this->queue()->counts();
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => $orders, 'failed' => 0], $counts, "$what: every row settled done, none failed");
        $this->assertSame([], $drain['failed'], "$what: an outage never makes a row fail");
        $this->assertSame([], Sandbox::request('GET', '/_sandbox/faults')['faults'] ?? [], "$what: every injected fault was met");
        $rows = $this->queue()->rows();
        $this->assertCount($orders, $rows, "$what: one row per order");
        $maxAttempts = 0;
        foreach ($rows as $row) {
            $this->assertSame(0, (int) $row['failures'], "$what: an outage is not an order failure (row {$row['id_shoppingfeed_order']})");
            $this->assertNull($row['locked_by'], "$what: no lease left");
            $maxAttempts = max($maxAttempts, (int) $row['attempts']);
        }
        $this->assertGreaterThan(0, $maxAttempts, "$what: the faults cost attempts");
        $ticketed = $this->ticketed();
        foreach ($ids as $i => $id) {
            $op = self::OPERATION_OF[self::STATES[$i % 4]];
            $this->assertArrayHasKey("$op:$id", $ticketed, "$what: order $id reached the API");
        }
        $account = $this->sandboxAccount();
        $this->assertSame($orders, $account['tickets']['succeed'] ?? null, "$what: one successful ticket per order");
        $this->assertSame($account['ignored'], $account['resent'], "$what: every re-sent order was recognised by the API as already performed");
        $this->assertSame(0, (int) $account['stats']['duplicates'], "$what: no operation executed twice");
        $stats = $account['stats'];
        $figures = [
            'faults_injected' => (int) $stats['faults_injected'],
            'orders' => $orders,
            'lost' => $orders - $counts['done'],
            'failed' => $counts['failed'],
            'resent' => $account['resent'],
            'max_attempts' => $maxAttempts,
            'chains' => $drain['chains'],
            'api_requests' => (int) $stats['requests'],
            'seconds' => round($seconds, 2),
        ];
        Figures::record('fault', $what, $figures);

        return $figures + ['errors' => $drain['errors']];
    }

    /**
     * upload-documents (multipart, the invoices' PDFs) meets every fault of
     * the matrix: 5xx bursts, dropped connections, malformed answers, slow
     * answers past timeout_ms, 429s, and ticket-read faults. Nothing lost,
     * nothing failed, each order uploaded once (re-sends answered ignored).
     */
    public function testInvoiceUploadsMeetEveryFaultAndLoseNothing(): void
    {
        ini_set('shoppingfeed_sync.timeout_ms', '500');
        $orders = Size::pick(30, 120);
        $n = max(2, intdiv(self::reps(), 2));
        $faults = [
            ['kind' => 'slow', 'ms' => 1500, 'count' => 2, 'on' => 'order'],
            ['kind' => 'rate_limit', 'wait' => 0.2, 'count' => 3, 'on' => 'order'],
        ];
        foreach ([500, 502, 503, 504] as $status) {
            $faults[] = ['kind' => 'status', 'status' => $status, 'count' => $n, 'on' => 'order'];
        }
        foreach (['drop', 'malformed'] as $kind) {
            $faults[] = ['kind' => $kind, 'count' => $n, 'on' => 'order'];
            $faults[] = ['kind' => $kind, 'count' => $n, 'on' => 'ticket'];
        }
        $pdf = "%PDF-1.4\n" . str_repeat("\x00\xff--\r\n binary ", 2000);
        for ($i = 0; $i < $orders; $i++) {
            $docs = [];
            for ($d = 0; $d <= $i % 3; $d++) {
                $docs[] = ['name' => sprintf('FA%06d-%d.pdf', $i, $d), 'content' => $pdf . $i . '-' . $d];
            }
            $actions = new ShoppingfeedOrderSyncInvoiceActions();
            $actions->setConveyor($this->conveyor(['id_order' => 5000 + $i, 'order_action' => 'SYNC_INVOICE',
                'order' => ['id_internal_shoppingfeed' => 5000 + $i, 'documents' => $docs]]));
            $this->assertTrue($actions->saveOrder());
        }
        Sandbox::faults($faults);
        $t0 = microtime(true);
        $errors = [];
        $failed = [];
        for ($round = 0; $round < 200; $round++) {
            foreach (['SYNC_INVOICE' => ['getBatch', 'prepareBatch', 'sendBatch'], 'CHECK_TICKET_SYNC_INVOICE' => ['getBatch', 'checkTickets']] as $action => $methods) {
                for ($i = 0; $i < 50; $i++) {
                    $actions = new ShoppingfeedOrderSyncInvoiceActions();
                    $actions->setConveyor($this->conveyor(['order_action' => $action]));
                    $stopped = null;
                    foreach ($methods as $method) {
                        if (!$actions->$method()) {
                            $stopped = $method;
                            break;
                        }
                    }
                    $c = $actions->getConveyor();
                    $errors = array_merge($errors, $c['errors'] ?? []);
                    $failed = array_merge($failed, $c['failed'] ?? []);
                    if ($stopped === 'getBatch' || ($action !== 'SYNC_INVOICE' && empty($c['succeeded']) && empty($c['pending']) && empty($c['failed']))) {
                        break;
                    }
                }
            }
            $counts = $this->queue()->counts();
            if ($counts['pending'] + $counts['sent'] === 0) {
                break;
            }
            $this->queue()->makeDue();
        }
        $seconds = microtime(true) - $t0;
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => $orders, 'failed' => 0], $this->queue()->counts(), 'every upload settled done');
        $this->assertSame([], $failed, 'an outage never fails an upload');
        $this->assertSame([], Sandbox::request('GET', '/_sandbox/faults')['faults'] ?? [], 'every injected fault was met');
        foreach ($this->queue()->rows() as $row) {
            $this->assertSame(0, (int) $row['failures']);
            $this->assertNull($row['locked_by']);
        }
        $account = $this->sandboxAccount();
        $this->assertSame($orders, $account['tickets']['succeed'] ?? null, 'one successful ticket per order');
        $this->assertSame(0, (int) $account['stats']['duplicates'], 'no upload executed twice');
        // (429s are waited out without an error line: "every injected fault was met" above counts them.)
        foreach (['HTTP 50', 'network: ', 'malformed response', 'timed out'] as $seen) {
            $this->assertNotEmpty(preg_grep('/' . preg_quote($seen, '/') . '/', $errors), "met: $seen\n" . implode("\n", array_slice($errors, 0, 20)));
        }
        Figures::record('fault', 'upload-documents: 5xx, drops, malformed, timeouts, 429, ticket faults', [
            'faults_injected' => (int) $account['stats']['faults_injected'],
            'orders' => $orders,
            'files' => $orders + intdiv($orders, 3) * 3,
            'lost' => 0,
            'failed' => 0,
            'resent' => $account['resent'],
            'api_requests' => (int) $account['stats']['requests'],
            'seconds' => round($seconds, 2),
        ]);
    }

    public function testServerErrorBurstsLoseNothingAndNeverFailARow(): void
    {
        $faults = [];
        foreach ([500, 502, 503, 504] as $status) {
            $faults[] = ['kind' => 'status', 'status' => $status, 'count' => self::reps(), 'on' => 'order'];
            $faults[] = ['kind' => 'status', 'status' => $status, 'count' => self::reps(), 'on' => 'ticket'];
        }
        $f = $this->outageScenario('5xx bursts (500/502/503/504, orders and tickets)', $faults, 250);
        $this->assertSame(8 * self::reps(), $f['faults_injected']);
        $this->assertSame(0, $f['resent'], 'a 5xx is answered before the API takes the orders: nothing is sent twice');
        $this->assertNotEmpty(preg_grep('/HTTP 50[0234]/', $f['errors']), 'the 5xx are reported in the conveyor errors');
    }

    public function testDroppedConnectionsAreOutages(): void
    {
        $f = $this->outageScenario('dropped connections (orders and tickets)', [
            ['kind' => 'drop', 'count' => self::reps(), 'on' => 'order'],
            ['kind' => 'drop', 'count' => self::reps(), 'on' => 'ticket'],
        ], 150);
        $this->assertSame(2 * self::reps(), $f['faults_injected']);
        $this->assertSame(0, $f['resent']);
        $this->assertNotEmpty(preg_grep('/network: connection/', $f['errors']), implode("\n", $f['errors']));
    }

    public function testMalformedAndTruncatedAnswersAreOutages(): void
    {
        $f = $this->outageScenario('malformed/truncated JSON (orders and tickets)', [
            ['kind' => 'malformed', 'count' => self::reps(), 'on' => 'order'],
            ['kind' => 'malformed', 'count' => self::reps(), 'on' => 'ticket'],
        ], 150);
        $this->assertSame(2 * self::reps(), $f['faults_injected']);
        $this->assertNotEmpty(preg_grep('/malformed response/', $f['errors']), implode("\n", $f['errors']));
    }

    public function testTimeoutsAreOutagesAndBoundEachRequest(): void
    {
        ini_set('shoppingfeed_sync.timeout_ms', '300');
        $this->queueOrders(1000, 40, self::SHIPPED);
        // Each send chain meets one slow answer (2 s > the 300 ms limit).
        $longest = 0.0;
        for ($i = 1; $i <= self::reps(); $i++) {
            Sandbox::faults([['kind' => 'slow', 'ms' => 2000, 'count' => 1, 'on' => 'order']]);
            $t0 = microtime(true);
            $run = $this->send();
            $longest = max($longest, microtime(true) - $t0);
            $this->assertTrue($run['ok']);
            $this->assertCount(40, $run['conveyor']['pending'] ?? [], 'timed out: every row waits');
            $this->assertStringContainsString('timed out after 300 ms', implode("\n", $run['conveyor']['errors'] ?? []));
            $this->queue()->makeDue();
        }
        $this->assertLessThan(1.5, $longest, 'one request never lasts much longer than shoppingfeed_sync.timeout_ms');
        // A sandbox that does not answer at all (hang): the same.
        Sandbox::config(['hang' => true]);
        $t0 = microtime(true);
        $run = $this->send();
        $hung = microtime(true) - $t0;
        $this->assertLessThan(1.5, $hung);
        $this->assertCount(40, $run['conveyor']['pending'] ?? []);
        Sandbox::config(['hang' => false]);
        $this->queue()->makeDue();
        $drain = $this->drain();
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 40, 'failed' => 0], $this->queue()->counts());
        $this->assertSame([], $drain['failed']);
        foreach ($this->queue()->rows() as $row) {
            $this->assertSame(0, (int) $row['failures']);
            $this->assertSame(self::reps() + 1, (int) $row['attempts'], 'each timeout costs one attempt');
        }

        // Slow ticket reads: the sent rows wait (deferred), still sent.
        $this->queueOrders(2000, 20, self::SHIPPED);
        $this->assertCount(20, $this->send()['conveyor']['sent'] ?? []);
        Sandbox::faults([['kind' => 'slow', 'ms' => 2000, 'count' => 1, 'on' => 'ticket']]);
        $check = $this->check();
        $this->assertCount(20, $check['conveyor']['pending'] ?? [], 'a timed-out ticket read defers the rows');
        $this->assertSame(20, $this->queue()->counts()['sent']);
        $this->queue()->makeDue();
        $this->drain();
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 60, 'failed' => 0], $this->queue()->counts());

        // A request the client gave up on may still be executed by the API (the
        // answer came too late): the re-send is then reported as already performed
        // ("ignored") and the row settles done. Never executed twice.
        $account = $this->sandboxAccount();
        $this->assertSame($account['ignored'], $account['resent'], 'every re-sent order was recognised by the API');
        $this->assertSame(0, (int) $account['stats']['duplicates'], 'no operation executed twice');
        Figures::record('fault', 'timeouts (slow answers 2 s, hang; timeout_ms 300)', [
            'faults_injected' => (int) $account['stats']['faults_injected'] + 1,
            'orders' => 60,
            'lost' => 0,
            'failed' => 0,
            'resent' => $account['resent'],
            'resent_ignored_by_api' => $account['ignored'],
            'longest_chain_s' => round(max($longest, $hung), 3),
        ]);
    }

    public function testOversizedBodyKeepsMemoryBounded(): void
    {
        $this->queueOrders(1000, 20, self::SHIPPED);
        $n = Size::pick(3, 10);
        $longest = 0.0;
        for ($i = 0; $i < $n; $i++) {
            Sandbox::faults([['kind' => 'huge', 'count' => 1, 'on' => 'order']]);
            $t0 = microtime(true);
            $run = $this->send();
            $longest = max($longest, microtime(true) - $t0);
            $this->assertCount(20, $run['conveyor']['pending'] ?? []);
            $this->assertStringContainsString('larger than 8 MiB', implode("\n", $run['conveyor']['errors'] ?? []));
            $this->queue()->makeDue();
        }
        $this->assertCount(20, $this->send()['conveyor']['sent'] ?? []);
        for ($i = 0; $i < $n; $i++) {
            Sandbox::faults([['kind' => 'huge', 'count' => 1, 'on' => 'ticket']]);
            $check = $this->check();
            $this->assertCount(20, $check['conveyor']['pending'] ?? [], 'an oversized ticket page defers the rows');
            $this->queue()->makeDue();
        }
        // The same from a server that streams 50 MiB without a Content-Length:
        // the client reads up to its 8 MiB limit and stops.
        [$url, $modeFile] = $this->hostileServer('huge');
        ini_set('shoppingfeed_sync.api_url', $url);
        $this->queue()->makeDue();
        $t0 = microtime(true);
        $check = $this->check();
        $streamed = microtime(true) - $t0;
        $this->assertCount(20, $check['conveyor']['pending'] ?? [], json_encode($check['conveyor']['errors'] ?? []));
        $this->assertStringContainsString('larger than 8 MiB', implode("\n", $check['conveyor']['errors'] ?? []));
        $this->queueOrders(3000, 5, self::SHIPPED);
        $run = $this->send();
        $this->assertCount(5, $run['conveyor']['pending'] ?? []);
        $this->assertStringContainsString('larger than 8 MiB', implode("\n", $run['conveyor']['errors'] ?? []));
        ini_set('shoppingfeed_sync.api_url', Sandbox::url());
        $this->queue()->makeDue();
        $drain = $this->drain();
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 25, 'failed' => 0], $this->queue()->counts());
        $this->assertSame([], $drain['failed']);

        // The memory it costs, in a fresh process: the body limit is 8 MiB, a 50 MiB
        // answer must never be held whole.
        $probe = Proc::start(
            array_merge(TestEnv::phpCommand(['shoppingfeed_sync.database' => TestEnv::newQueueDatabase($this->dir, 'probe'), 'shoppingfeed_sync.api_url' => $url]), [__DIR__ . '/fixtures/huge-probe.php', (string) $n]),
            $this->dir,
            'huge-probe'
        );
        $this->assertSame(0, $probe->wait(120), $probe->stderr());
        $p = json_decode($probe->stdout(), true);
        $this->assertIsArray($p, $probe->stdout() . $probe->stderr());
        $this->assertSame(5, $p['pending']);
        $this->assertStringContainsString('larger than 8 MiB', implode(' ', $p['errors']));
        $growth = $p['hwm_after_kb'] - $p['hwm_before_kb'];
        $this->assertLessThan(32 * 1024, $growth, "peak RSS grew by $growth kB reading 50 MiB answers");
        Figures::record('fault', 'oversized 50 MiB answers (orders and tickets; with and without Content-Length)', [
            'faults_injected' => 2 * $n + 2,
            'orders' => 25,
            'lost' => 0,
            'failed' => 0,
            'peak_rss_growth_kb' => $growth,
            'peak_rss_kb' => $p['hwm_after_kb'],
            'streamed_chains' => $n,
            'longest_chain_s' => round($longest, 2),
            'streamed_chain_s' => round($streamed, 2),
        ]);
    }

    public function testRateLimitIsHonouredAndBounded(): void
    {
        $this->queueOrders(1000, 30, self::SHIPPED);
        // Three 429s asking 0.4 s each: the batch run waits them out and sends.
        Sandbox::faults([['kind' => 'rate_limit', 'wait' => 0.4, 'count' => 3, 'on' => 'order']]);
        $t0 = microtime(true);
        $run = $this->send();
        $waited = microtime(true) - $t0;
        $this->assertGreaterThanOrEqual(1.2, $waited, 'X-RateLimit-Wait is honoured');
        $this->assertLessThan(3.0, $waited);
        $this->assertCount(30, $run['conveyor']['sent'] ?? [], 'then the orders go through in the same run');
        $this->assertSame([], $run['conveyor']['errors'] ?? []);
        foreach ($this->queue()->rows() as $row) {
            $this->assertSame(0, (int) $row['attempts'], 'a 429 that clears costs no attempt');
        }
        // Tickets too.
        Sandbox::faults([['kind' => 'rate_limit', 'wait' => 0.3, 'count' => 2, 'on' => 'ticket']]);
        $t0 = microtime(true);
        $check = $this->check();
        $this->assertGreaterThanOrEqual(0.6, microtime(true) - $t0);
        $this->assertCount(30, $check['conveyor']['succeeded'] ?? []);

        // Bounded: after 5 waits, the 6th 429 counts as an outage (one attempt, never a failure).
        $this->queueOrders(2000, 10, self::SHIPPED);
        Sandbox::faults([['kind' => 'rate_limit', 'wait' => 0.1, 'count' => 6, 'on' => 'order']]);
        $t0 = microtime(true);
        $run = $this->send();
        $this->assertGreaterThanOrEqual(0.5, microtime(true) - $t0);
        $this->assertCount(10, $run['conveyor']['pending'] ?? [], 'a 429 that does not clear: the rows wait');
        foreach ($this->queue()->rows('id_order >= 2000') as $row) {
            $this->assertSame([1, 0, 'pending'], [(int) $row['attempts'], (int) $row['failures'], $row['state']]);
        }
        // Real time: no wait at all inside the merchant's request, whatever the API asks.
        Sandbox::faults([['kind' => 'rate_limit', 'wait' => 1000, 'count' => 1, 'on' => 'order']]);
        $t0 = microtime(true);
        $c = $this->save(3000, $this->snapshot(3000, self::CANCELLED), [], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']);
        $realtime = microtime(true) - $t0;
        $this->assertLessThan(1.0, $realtime, 'saveOrder does not sleep on a 429');
        $row = $this->queue()->rows('id_order = 3000')[0];
        $this->assertSame([1, 0, 'pending'], [(int) $row['attempts'], (int) $row['failures'], $row['state']]);
        $this->assertNotEmpty($c['errors'] ?? []);

        $this->queue()->makeDue();
        $this->drain();
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 41, 'failed' => 0], $this->queue()->counts());
        Figures::record('fault', '429 with X-RateLimit-Wait (batch, tickets, real time)', [
            'faults_injected' => (int) Sandbox::stats()['faults_injected'],
            'orders' => 41,
            'lost' => 0,
            'failed' => 0,
            'waited_3x0.4s' => round($waited, 2),
            'realtime_429_wait1000_s' => round($realtime, 3),
            'cap' => '30 s a wait, 5 waits a request',
        ]);
    }

    public function testRateLimitWaitIsCappedAtThirtySeconds(): void
    {
        if (!Size::full()) {
            $this->markTestSkipped('full size only (waits 30 s): RELIABILITY_SIZE=full');
        }
        $this->queueOrders(1000, 5, self::SHIPPED);
        Sandbox::faults([['kind' => 'rate_limit', 'wait' => 100000, 'count' => 1, 'on' => 'order']]);
        $t0 = microtime(true);
        $run = $this->send();
        $waited = microtime(true) - $t0;
        $this->assertGreaterThanOrEqual(29.5, $waited);
        $this->assertLessThan(36, $waited, 'X-RateLimit-Wait: 100000 is capped at 30 s');
        $this->assertCount(5, $run['conveyor']['sent'] ?? []);
        Figures::record('fault', '429 asking 100000 s (cap)', ['orders' => 5, 'lost' => 0, 'waited_s' => round($waited, 2)]);
    }

    public function testBackoffIsExponentialWithJitterAndCapped(): void
    {
        $base = 60;
        $settings = ['SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => (string) $base, 'SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '2'];
        $this->queueOrders(1000, 100, self::SHIPPED, $settings);
        $rounds = 9;
        $seen = [];
        for ($n = 1; $n <= $rounds; $n++) {
            Sandbox::faults([['kind' => 'status', 'status' => 503, 'count' => 1, 'on' => 'order']]);
            $run = $this->send($settings);
            $this->assertCount(100, $run['conveyor']['pending'] ?? [], "round $n");
            $expected = $base * 2 ** ($n - 1);
            $lo = min(3600, (int) round($expected * 0.8));
            $hi = min(3600, (int) round($expected * 1.2));
            $delays = [];
            foreach ($this->queue()->rows() as $row) {
                $this->assertSame([$n, 0, 'pending'], [(int) $row['attempts'], (int) $row['failures'], $row['state']], 'attempts count every outage; failures none');
                $delay = (int) $row['update_at'] - (int) $row['date_upd'];
                $this->assertGreaterThanOrEqual($lo, $delay, "retry $n waits at least 0.8 x $base x 2^" . ($n - 1));
                $this->assertLessThanOrEqual($hi, $delay, "retry $n waits at most 1.2 x $base x 2^" . ($n - 1) . ', capped at 3600');
                $delays[] = $delay;
            }
            if ($expected * 0.8 < 3600) {
                $this->assertGreaterThan(5, count(array_unique($delays)), "retry $n: the delays are jittered (" . count(array_unique($delays)) . ' distinct values)');
            }
            $seen[$n] = [min($delays), max($delays)];
            // Not due before its delay: a run now claims nothing.
            $this->assertSame('getBatch', $this->send($settings)['stopped']);
            $this->queue()->makeDue();
        }
        $this->assertSame([3600, 3600], $seen[$rounds], 'capped at one hour');
        // A sent row whose tickets cannot be read waits the same way (deferred, still sent).
        $this->assertCount(100, $this->send($settings)['conveyor']['sent'] ?? []);
        Sandbox::faults([['kind' => 'status', 'status' => 502, 'count' => 1, 'on' => 'ticket']]);
        $this->check($settings);
        foreach ($this->queue()->rows() as $row) {
            $this->assertSame('sent', $row['state']);
            $delay = (int) $row['update_at'] - (int) $row['date_upd'];
            $this->assertSame(3600, $delay, 'the ticket read backs off from the same counter');
        }
        Figures::record('fault', 'backoff after n outages (RETRY_DELAY 60): [min,max] delay s', ['delays' => $seen, 'orders' => 100, 'lost' => 0, 'failed' => 0]);
    }

    public function testTicketsThat404ComeBackAndAreSentAgain(): void
    {
        $n = 100;
        $this->queueOrders(1000, $n, self::SHIPPED);
        $this->assertCount($n, $this->send()['conveyor']['sent'] ?? []);
        Sandbox::config(['forget_batches' => true]);
        $check = $this->check();
        $this->assertCount($n, $check['conveyor']['pending'] ?? [], 'a ticket batch the API no longer knows puts the rows back');
        foreach ($this->queue()->rows() as $row) {
            $this->assertSame(['pending', 'SYNC_STATUS', 1, 0], [$row['state'], $row['action'], (int) $row['attempts'], (int) $row['failures']]);
        }
        Sandbox::config(['forget_batches' => false]);
        $drain = $this->drain();
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => $n, 'failed' => 0], $this->queue()->counts());
        $this->assertSame([], $drain['failed']);
        $account = $this->sandboxAccount();
        // Sent again: the API reports the orders as already performed (ignored), harmless.
        $this->assertSame($n, $account['resent']);
        $this->assertSame($n, $account['ignored']);
        Figures::record('fault', 'ticket batches that 404 (forget_batches)', ['orders' => $n, 'lost' => 0, 'failed' => 0, 'resent' => $account['resent'], 'resent_ignored_by_api' => $account['ignored']]);
    }

    public function rejections(): array
    {
        return [
            '400 by id' => [400, false],
            '404 by id' => [404, false],
            '409 by id' => [409, false],
            '422 by id' => [422, false],
            '400 by reference' => [400, true],
        ];
    }

    /**
     * @dataProvider rejections
     */
    public function testOneBadOrderInAHundredIsIsolatedAndFailsAlone(int $status, bool $legacy): void
    {
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '3'];
        $bad = 1042;
        for ($id = 1000; $id < 1100; $id++) {
            $order = $legacy
                ? ['reference' => 'AMZ-' . $id, 'marketplace' => 'Amazon', 'id_order_state' => self::SHIPPED, 'carrier' => 'UPS', 'tracking_number' => 'T' . $id, 'tracking_url' => 'https://t/' . $id]
                : $this->snapshot($id);
            $this->save($id, $order, [], $settings);
        }
        $badKey = $legacy ? 'AMZ-' . $bad : (string) $bad;
        Sandbox::config(['reject_orders' => [$badKey => $status]]);

        $run = $this->send($settings);
        $this->assertCount(99, $run['conveyor']['sent'] ?? [], 'the 99 good orders go through in the same run');
        $this->assertSame([(int) $this->queue()->rows('id_order = ?', [$bad])[0]['id_shoppingfeed_order']], $run['conveyor']['pending'] ?? [], 'the bad order waits');
        $posts = Sandbox::orderPosts();
        $this->assertSame([$status, 202], array_column($posts, 'status'), 'one rejected request of 100, then the 99 again');
        $this->assertSame([100, 99], array_map('count', array_column($posts, 'elements')));

        $failedLists = [];
        for ($i = 0; $i < 5; $i++) {
            $this->queue()->makeDue();
            $run = $this->send($settings);
            foreach ($run['conveyor']['failed'] ?? [] as $row) {
                $failedLists[] = (int) $row['id_order'];
            }
        }
        $row = $this->queue()->rows('id_order = ?', [$bad])[0];
        $this->assertSame(['failed', 3, 3], [$row['state'], (int) $row['failures'], (int) $row['attempts']], 'the bad order fails alone after MAX_ATTEMPTS order failures');
        $this->assertStringContainsString("HTTP $status", (string) $row['last_error']);
        $this->assertSame([$bad], $failedLists, 'listed once for the mail');
        $this->drain($settings);
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 99, 'failed' => 1], $this->queue()->counts());
        $ticketed = $this->ticketed();
        $this->assertCount(99, $ticketed);
        $this->assertArrayNotHasKey('ship:' . $badKey, $ticketed);
        Figures::record('fault', "one bad order in 100 ($status" . ($legacy ? ', by reference' : '') . ')', [
            'orders' => 100, 'good_sent_first_run' => 99, 'lost' => 0, 'failed' => 1, 'bad_requests' => count(Sandbox::orderPosts($status)),
        ]);
    }

    public function testAnUnnamedRejectionIsSplitUntilEveryGoodOrderIsSent(): void
    {
        $this->queueOrders(1000, 100, self::SHIPPED);
        // A 400 whose detail names no order, twice: the request is split in halves.
        Sandbox::faults([['kind' => 'status', 'status' => 400, 'count' => 2, 'on' => 'order']]);
        $run = $this->send();
        $this->assertCount(100, $run['conveyor']['sent'] ?? [], 'every order sent in the same run');
        $this->assertSame([400, 400, 202, 202, 202], array_column(Sandbox::orderPosts(), 'status'));
        $this->assertSame(0, (int) $this->queue()->scalar('SELECT MAX(failures) FROM {queue}'));
        Figures::record('fault', 'a 400 naming no order (split in halves)', ['orders' => 100, 'lost' => 0, 'failed' => 0, 'requests' => 5]);
    }

    public function attemptLimits(): array
    {
        return ['limit 1' => [1], 'limit 4' => [4]];
    }

    /**
     * SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS: order-specific failures before STATE_FAILED.
     *
     * @dataProvider attemptLimits
     */
    public function testAttemptLimitSettingIsHonoured(int $limit): void
    {
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => (string) $limit];
        $this->queueOrders(1000, 10, self::CANCELLED, $settings);
        Sandbox::config(['fail_orders' => ['1003' => 'Cancellation refused by the marketplace']]);
        $drain = $this->drain($settings);
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 9, 'failed' => 1], $this->queue()->counts());
        $row = $this->queue()->rows('id_order = 1003')[0];
        $this->assertSame([$limit, $limit], [(int) $row['failures'], (int) $row['attempts']]);
        $this->assertSame('Cancellation refused by the marketplace', $row['last_error']);
        $this->assertSame([(int) $row['id_shoppingfeed_order']], $drain['failed'], 'listed once');
        $this->assertCount($limit, Sandbox::orderTickets('1003'), 'one ticket per try');
    }

    public function testFailedRowsAreListedOnceForTheMailAndRetryFailedBringsThemBack(): void
    {
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '3'];
        $orders = $this->queueOrders(1000, 40, null, $settings);
        $bad = [1003, 1010, 1017, 1024, 1031];
        Sandbox::config(['fail_orders' => array_fill_keys(array_map('strval', $bad), 'Marketplace refused the update')]);

        $mailed = [];
        $runs = 0;
        for (; $runs < 20; $runs++) {
            $counts = $this->queue()->counts();
            if ($counts['pending'] + $counts['sent'] === 0) {
                break;
            }
            [$code, $out, $err] = TestEnv::run($this->cronCommand($settings), ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
            $this->assertSame(0, $code, $err . $out);
            $summary = json_decode($out, true);
            $this->assertIsArray($summary, $out);
            foreach ($summary['failed_orders'] as $failed) {
                $mailed[] = $failed['id_order'];
                $this->assertSame('Marketplace refused the update', $failed['last_error']);
            }
        }
        sort($mailed);
        $this->assertSame($bad, $mailed, 'each failed order listed once, in the run where it failed');
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 35, 'failed' => 5], $this->queue()->counts());

        // The merchant fixed them: retryFailed brings them back, counters at zero.
        Sandbox::config(['fail_orders' => null]);
        $this->assertSame(2, ShoppingfeedOrderSyncQueue::retryFailed(1, [1003, 1010, 999999]));
        $this->assertSame(3, ShoppingfeedOrderSyncQueue::retryFailed(1));
        $this->assertSame(0, ShoppingfeedOrderSyncQueue::retryFailed(1));
        foreach ($bad as $id) {
            $rows = ShoppingfeedOrderSyncQueue::find($id);
            $this->assertCount(1, $rows, 'the same row comes back');
            $this->assertSame(['pending', 'SYNC_STATUS', 0, 0], [$rows[0]['state'], $rows[0]['action'], $rows[0]['attempts'], $rows[0]['failures']]);
        }
        [$code, $out] = TestEnv::run($this->cronCommand($settings), ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
        $this->assertSame(0, $code);
        [$code, $out] = TestEnv::run($this->cronCommand($settings), ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
        $this->assertSame(0, $code);
        $this->assertSame([], json_decode($out, true)['failed_orders']);
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 40, 'failed' => 0], $this->queue()->counts());
        Figures::record('fault', 'failed tickets -> STATE_FAILED, mailed once, retryFailed', [
            'orders' => count($orders), 'failed' => 5, 'mailed' => count($mailed), 'cron_runs' => $runs, 'retried' => 5, 'lost' => 0,
        ]);
    }
}
