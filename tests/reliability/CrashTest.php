<?php

/**
 * Crash safety: cron runs (the real CLI, php/tools/bin/sync-orders.php) and web
 * writers SIGKILLed at random moments against the sandbox with latency. Every
 * update ends settled, none is lost, the queue stays sound (the SQLite file,
 * or the MySQL table in mysql runs), and the only
 * updates the API gets twice are those of a request it answered to a run
 * that died before committing that answer (the at-least-once window), each
 * recognised by the API as already performed.
 */
final class CrashTest extends ReliabilityTestCase
{
    /** The cron's settings: short leases so that a killed run's rows come back fast. */
    private function cronSettings(int $lease = 1): array
    {
        return [
            'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => '10',
            'SHOPPINGFEED_ORDER_STATUS_LEASE_TIME' => (string) $lease,
            'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0',
        ];
    }

    private function startCron(string $label, array $settings): Proc
    {
        return Proc::start($this->cronCommand($settings, ['--time-budget=60']), $this->dir, $label, ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
    }

    /**
     * Runs the cron to completion until nothing is pending or sent (waiting
     * for leases and tickets between runs). Returns how many runs it took.
     */
    private function cronUntilSettled(array $settings, int $maxRuns = 80): int
    {
        for ($runs = 1; $runs <= $maxRuns; $runs++) {
            $p = $this->startCron('final-' . $runs, $settings);
            $code = $p->wait(90);
            $this->assertSame(0, $code, 'a cron run after the kills: ' . $p->stderr() . $p->stdout());
            $summary = json_decode($p->stdout(), true);
            $this->assertIsArray($summary, $p->stdout());
            $counts = $this->queue()->counts();
            if ($counts['pending'] + $counts['sent'] === 0) {
                return $runs;
            }
            usleep(250000); // tickets still running, or leases of killed runs not ended yet
        }
        $this->fail('the queue did not settle: ' . json_encode($this->queue()->counts()));
    }

    /**
     * Adds the accepted order POSTs logged since $seq to $posts (order id =>
     * the POST log entries that carried it, in the order they arrived). Read
     * while the test runs: the sandbox keeps the bodies of its last 2,000
     * requests only.
     */
    private function collectPosts(int &$seq, array &$posts, int &$elements): void
    {
        foreach (Sandbox::request('GET', '/_sandbox/log?since=' . $seq)['requests'] ?? [] as $entry) {
            $seq = max($seq, (int) $entry['seq']);
            if (($entry['method'] ?? '') !== 'POST' || ($entry['status'] ?? null) !== 202 || strpos((string) $entry['path'], '/order/') === false) {
                continue;
            }
            $body = $entry['body'] ?? null;
            $body = is_string($body) ? json_decode($body, true) : $body;
            $this->assertIsArray($body, 'the sandbox still holds the body of request ' . $entry['seq']);
            foreach ($body['order'] as $el) {
                $posts[(int) $el['id']][] = $entry;
                $elements++;
            }
        }
    }

    public function testCronKilledAtRandomMomentsLosesNothing(): void
    {
        $seed = (int) (getenv('RELIABILITY_SEED') ?: random_int(1, PHP_INT_MAX >> 1));
        mt_srand($seed);
        $kills = Size::pick(30, 200);
        $initial = Size::pick(200, 600);
        $settings = $this->cronSettings();
        Sandbox::config(['latency_ms' => 30, 'ticket_delay_ms' => 200]);

        $orders = $this->queueOrders(10000, $initial);
        $next = 10000 + $initial;
        $runs = [];
        $killed = 0;
        $leasedByKilled = 0;
        $killsWithLeases = 0;
        $seq = 0;
        $posts = [];
        $elements = 0;
        $t0 = microtime(true);
        // A run that drains the 15 new orders quickly may end before its
        // kill: kill early enough to hit most runs, and allow many tries.
        for ($i = 0; $killed < $kills && $i < $kills * 20; $i++) {
            $p = $this->startCron('run-' . $i, $settings);
            if ($i % 2 === 1) {
                // Every other kill comes at a random moment after the run has
                // claimed rows: on a loaded machine a run can take more than
                // 150 ms to start, and the kills of the other branch then all
                // land before any claim (none leaves a lease behind).
                $until = microtime(true) + 10;
                while ($p->running() && microtime(true) < $until
                    && (int) $this->queue()->scalar('SELECT COUNT(*) FROM {queue} WHERE locked_by LIKE ?', ['p' . $p->pid . '-%']) === 0) {
                    usleep(1000);
                }
                usleep(mt_rand(0, 60000));
            } else {
                usleep(mt_rand(5000, 150000));
            }
            $run = ['pid' => $p->pid, 'start_ms' => (int) floor($p->startedAt * 1000), 'killed' => false];
            if ($p->kill(9)) {
                $run['kill_ms'] = (int) ceil(microtime(true) * 1000);
                $code = $p->wait(10);
                $this->assertSame(137, $code, 'killed by SIGKILL');
                $run['killed'] = true;
                $killed++;
                // The dead run's leases: rows it claimed and never settled.
                $leased = 0;
                foreach ($this->queue()->liveLeases() as $claim => $ids) {
                    if (strpos($claim, 'p' . $p->pid . '-') === 0) {
                        $leased += count($ids);
                    }
                }
                $leasedByKilled += $leased;
                $killsWithLeases += $leased > 0 ? 1 : 0;
            } else {
                $code = $p->wait(10);
                $this->assertSame(0, $code, $p->stderr() . $p->stdout());
            }
            $run['end_ms'] = (int) ceil(microtime(true) * 1000);
            $runs[] = $run;
            // The shop goes on: new updates arrive between runs.
            foreach ($this->queueOrders($next, 15) as $id => $state) {
                $orders[$id] = $state;
            }
            $next += 15;
            $this->collectPosts($seq, $posts, $elements);
        }
        $this->assertSame($kills, $killed, "$kills runs killed");
        $this->assertSame('ok', $this->queue()->integrity(), 'the queue is sound after the kills');
        $this->assertGreaterThan(0, $killsWithLeases, 'some kills left leased rows behind');

        $finalRuns = $this->cronUntilSettled($settings);
        $seconds = microtime(true) - $t0;

        // Nothing lost: every update settled done, one row each, and reached the API.
        $total = count($orders);
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => $total, 'failed' => 0], $this->queue()->counts());
        $this->assertSame($total, (int) $this->queue()->scalar('SELECT COUNT(DISTINCT id_order) FROM {queue}'));
        $this->assertSame(0, (int) $this->queue()->scalar('SELECT COUNT(*) FROM {queue} WHERE locked_by IS NOT NULL'));
        $ticketed = $this->ticketed();
        foreach ($orders as $id => $state) {
            $this->assertArrayHasKey(self::OPERATION_OF[$state] . ':' . $id, $ticketed, "order $id reached the API");
        }
        $account = $this->sandboxAccount();
        $this->assertSame($total, $account['distinct']);
        $this->assertSame(0, (int) $account['stats']['duplicates'], 'no operation executed twice');
        $this->assertSame($account['ignored'], $account['resent'], 'every re-sent order was recognised as already performed');

        // Each re-sent order is a row settled as already performed, and every
        // request that carried it but the last (the one whose answer was
        // committed) came from a run that was then killed. One order can be
        // re-sent more than once: a run that claims it after the dead run's
        // lease may be killed in the same window, and then a third run sends it.
        $this->collectPosts($seq, $posts, $elements);
        $this->assertSame($account['received'], $elements, 'every accepted order POST is in the sandbox log');
        $resentOrders = array_keys(array_filter($posts, static function ($list) {
            return count($list) > 1;
        }));
        sort($resentOrders);
        $ignoredRows = $this->queue()->rows("last_error LIKE 'ignored by Shopping Feed%'");
        $ignoredOrders = array_map('intval', array_column($ignoredRows, 'id_order'));
        sort($ignoredOrders);
        $this->assertSame($resentOrders, $ignoredOrders, 'each re-sent order is a row settled as already performed');
        $this->assertSame($account['resent'], $elements - count($posts), 'the re-sends add up to what the API counted');
        $gaps = [];
        foreach ($resentOrders as $id) {
            foreach (array_slice($posts[$id], 0, -1) as $n => $post) {
                $arrived = (int) $post['at_ms'];
                $answered = $arrived + (int) $post['duration_ms'];
                $owner = null;
                foreach ($runs as $run) {
                    if ($run['start_ms'] <= $arrived && $arrived <= $run['end_ms']) {
                        $owner = $run;
                    }
                }
                $this->assertNotNull($owner, "order $id: its request $n came from a run of the kill loop");
                $this->assertTrue($owner['killed'], "order $id: re-sent although the run that sent request $n was not killed");
                $this->assertLessThanOrEqual($owner['kill_ms'], $arrived, 'the request left before the kill');
                // The API answered around the kill: before it, or within the moment the kernel
                // takes to tear the killed process down and close its socket (a request whose
                // socket is closed earlier is dropped by the server and never executed).
                $this->assertGreaterThanOrEqual(-250, $owner['kill_ms'] - $answered, 'the API answered while the run was being killed');
                $gaps[] = $owner['kill_ms'] - $answered;
            }
        }

        Figures::record('crash', 'cron SIGKILLed at random moments (latency 30 ms, tickets 200 ms, lease 1 s)', [
            'seed' => $seed,
            'kills' => $killed,
            'runs_in_kill_loop' => count($runs),
            'kills_leaving_leases' => $killsWithLeases,
            'rows_leased_by_killed_runs' => $leasedByKilled,
            'orders' => $total,
            'lost' => 0,
            'failed' => 0,
            'resent' => $account['resent'],
            'resent_orders' => count($resentOrders),
            'resent_ignored_by_api' => $account['ignored'],
            'kill_minus_answer_ms' => $gaps,
            'final_runs' => $finalRuns,
            'seconds' => round($seconds, 1),
        ]);
    }

    /** The three fields: [action, operation on the wire]. */
    public function fields(): array
    {
        return [
            'status (ship)' => ['SYNC_STATUS', 'ship'],
            'partial refunds' => ['SYNC_REFUND', 'refund'],
            'invoices' => ['SYNC_INVOICE', 'upload-documents'],
        ];
    }

    /** Queues 20 updates of one field (orders 20000...). */
    private function queueField(string $action): void
    {
        if ($action === 'SYNC_STATUS') {
            $this->queueOrders(20000, 20, self::SHIPPED);

            return;
        }
        for ($id = 20000; $id < 20020; $id++) {
            $order = $action === 'SYNC_REFUND'
                ? ['id_internal_shoppingfeed' => $id, 'id_order_slip' => $id, 'refund' => ['shipping' => false, 'products' => [['reference' => 'SKU-' . $id, 'quantity' => 1]]]]
                : ['id_internal_shoppingfeed' => $id, 'documents' => [['name' => "FA$id.pdf", 'content' => "%PDF-1.4\n" . str_repeat("\x00\xff", 5000) . $id]]];
            $this->save($id, $order, ['order_action' => $action]);
        }
    }

    /**
     * @dataProvider fields
     */
    public function testKillBetweenTheApiAnswerAndTheCommitIsTheOnlySourceOfDuplicates(string $action, string $operation): void
    {
        $lease = 2;
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => '30'] + $this->cronSettings($lease);
        $this->queueField($action);
        Sandbox::config(['latency_ms' => 600]);

        $p = $this->startCron('window', $settings);
        // Wait for the run to be in its HTTP request: the rows are prepared (operation recorded) and leased.
        $deadline = microtime(true) + 20;
        while ((int) $this->queue()->scalar("SELECT COUNT(*) FROM {queue} WHERE operation = '$operation' AND locked_by IS NOT NULL") < 20) {
            $this->assertLessThan($deadline, microtime(true), 'the run did not reach its send: ' . $p->stderr());
            usleep(5000);
        }
        // Hold the queue's write lock: the run will get the API's answer but cannot commit it.
        $this->queue()->holdWriteLock();
        while (!Sandbox::orderPosts(202)) {
            $this->assertLessThan($deadline, microtime(true), 'the API never answered');
            usleep(5000);
        }
        usleep(150000); // the answer is read; the run now waits for the lock to commit it
        $this->assertTrue($p->running(), 'the run waits for the write lock');
        // MySQL: the run's statement waits in the server, which would carry it
        // out once the lock is released even though its client is dead (the
        // server only sees the closed socket when it answers). A process that
        // died before its commit reached the server is what this test is
        // about: its server connection is killed too, before the release.
        $connections = TestEnv::isMysql() ? MariaDb::connectionsOf($p->pid) : [];
        $answeredAt = microtime(true);
        $this->assertTrue($p->kill(9));
        $this->assertSame(137, $p->wait(10));
        if (TestEnv::isMysql()) {
            $this->assertNotEmpty($connections, 'the run\'s server connection was found');
            foreach ($connections as $id) {
                MariaDb::kill($id);
            }
        }
        $this->queue()->releaseWriteLock(false);

        $this->assertSame(20, $this->sandboxAccount()['distinct'], 'the API took the 20 orders');
        $rows = $this->queue()->rows();
        $claims = array_unique(array_column($rows, 'locked_by'));
        $this->assertCount(1, $claims);
        $this->assertStringStartsWith('p' . $p->pid . '-', (string) $claims[0], 'the rows stay leased to the dead run');
        foreach ($rows as $row) {
            $this->assertSame(['pending', null], [$row['state'], $row['batch_id']], 'the answer was never committed');
        }

        // Within the lease, another run leaves them alone.
        Sandbox::config(['latency_ms' => 0]);
        Sandbox::clearLog();
        $q = $this->startCron('within-lease', $settings);
        $this->assertSame(0, $q->wait(30), $q->stderr());
        $this->assertLessThan($lease, microtime(true) - $answeredAt, 'that run ended within the lease');
        $this->assertSame([], Sandbox::orderPosts(), 'a live lease of a dead run is not taken over early');

        // Once the lease has ended, the rows are picked up and sent again: the API reports them as already performed.
        usleep((int) (($lease + 1.1) * 1000000));
        $runs = $this->cronUntilSettled($settings);
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 20, 'failed' => 0], $this->queue()->counts());
        foreach ($this->queue()->rows() as $row) {
            $this->assertStringStartsWith('ignored by Shopping Feed', (string) $row['last_error']);
        }
        $account = $this->sandboxAccount();
        $this->assertSame(20, $account['resent'], 'the 20 orders of the uncommitted answer were sent twice');
        $this->assertSame(20, $account['ignored'], 'and recognised by the API');
        $this->assertSame(0, (int) $account['stats']['duplicates'], 'no operation executed twice');
        Figures::record('crash', "kill between the API answer and the local commit (write lock held), $operation", [
            'orders' => 20, 'lost' => 0, 'resent' => 20, 'resent_ignored_by_api' => 20, 'lease_s' => $lease, 'runs_after_lease' => $runs,
        ]);
    }

    public function testKilledWritersLoseNoAcknowledgedUpdate(): void
    {
        $seed = (int) (getenv('RELIABILITY_SEED') ?: random_int(1, PHP_INT_MAX >> 1));
        mt_srand($seed);
        $kills = Size::pick(20, 100);
        $acked = [];
        $unacked = 0;
        $cmd = TestEnv::phpCommand();
        // A cron runs beside the writers, so that saves meet claimed rows too.
        $settings = $this->cronSettings();
        for ($k = 0; $k < $kills; $k++) {
            $first = 100000 + $k * 10000;
            $w = Proc::start(array_merge($cmd, [__DIR__ . '/fixtures/writer.php', (string) $first, '9000', "k$k", '2']), $this->dir, "writer-$k");
            $cron = $k % 2 === 0 ? $this->startCron("cron-$k", $settings) : null;
            usleep(mt_rand(40000, 300000));
            $this->assertTrue($w->kill(9), "writer $k was still writing when killed");
            $this->assertSame(137, $w->wait(10));
            if ($cron !== null) {
                $cron->kill(9);
                $cron->wait(10);
            }
            foreach (explode("\n", $w->stdout()) as $line) {
                if (preg_match('/^ok (\d+) (\S+)$/', $line, $m)) {
                    $acked[(int) $m[1]] = $m[2]; // the latest acknowledged snapshot of the order
                } elseif (preg_match('/^error (.*)$/', $line, $m)) {
                    $this->fail("writer $k: " . $m[1]);
                }
            }
        }
        $this->assertSame('ok', $this->queue()->integrity());
        $this->assertGreaterThan($kills * 10, count($acked), 'the writers got some work done');

        // Every acknowledged update is in the queue, with its latest acknowledged snapshot
        // (or a newer one that saveOrder had durably written when the kill came).
        $rows = [];
        foreach ($this->queue()->rows() as $row) {
            $rows[(int) $row['id_order']][] = json_decode($row['payload'], true)['tracking_number'];
        }
        $lost = 0;
        foreach ($acked as $id => $tracking) {
            if (!isset($rows[$id])) {
                $lost++;
                continue;
            }
            $latest = end($rows[$id]);
            [, , $ackedVersion] = explode('-', $tracking);
            [, , $storedVersion] = explode('-', $latest);
            if ((int) $storedVersion < (int) $ackedVersion) {
                $lost++;
            }
        }
        $unacked = count($rows) - count(array_intersect_key($rows, $acked));
        $this->assertSame(0, $lost, 'no acknowledged update lost');
        $this->assertLessThanOrEqual($kills, $unacked, 'at most the one save in flight per kill is stored unacknowledged');

        $runs = $this->cronUntilSettled($settings);
        $counts = $this->queue()->counts();
        $this->assertSame(0, $counts['pending'] + $counts['sent'] + $counts['failed']);
        Figures::record('crash', 'web writers SIGKILLed while saving (a cron killed beside every other one)', [
            'seed' => $seed,
            'kills' => $kills,
            'acknowledged_orders' => count($acked),
            'stored_unacknowledged' => $unacked,
            'lost' => $lost,
            'integrity' => 'ok',
            'final_runs' => $runs,
        ]);
    }
}
