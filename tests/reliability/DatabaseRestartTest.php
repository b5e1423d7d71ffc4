<?php

/**
 * The MySQL/MariaDB server goes away under a working shop: restarted
 * (scripts/mariadb.sh restart) in the middle of a drain while a web writer
 * keeps saving, crashed (SIGKILL, InnoDB recovery) when this run started the
 * server, and the extension's connections killed from the server side
 * (KILL, as a DBA, wait_timeout or a failover does) in the middle of cron
 * runs and under an idle long-lived process. Nothing acknowledged is lost,
 * nothing is executed twice, and the runs after it carry on.
 */
final class DatabaseRestartTest extends ReliabilityTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        $this->onlyOn('mysql', 'the database server restarting or dropping connections (a SQLite queue has no server)');
    }

    protected function tearDown(): void
    {
        if (MariaDb::whyNotControllable() === null && !MariaDb::waitUp(0.5)) {
            MariaDb::restart();
        }
        parent::tearDown();
    }

    private function cronSettings(): array
    {
        return [
            'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => '10',
            'SHOPPINGFEED_ORDER_STATUS_LEASE_TIME' => '2',
            'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0',
        ];
    }

    private function startCron(string $label): Proc
    {
        return Proc::start($this->cronCommand($this->cronSettings(), ['--time-budget=20']), $this->dir, $label, ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
    }

    /**
     * A finished cron run: its exit code and what it said. A run may fail
     * while the server is away (exit 1: a shop ended in error; 4: the queue
     * could not be opened), never crash, never print the password.
     *
     * @return array{code: int, ok: bool, sent: int, errors: list<string>}
     */
    private function cronResult(Proc $p): array
    {
        $code = $p->wait(60);
        $text = $p->stdout() . $p->stderr();
        $this->assertContains($code, [0, 1, 4], 'a cron run ends normally, even when the database went away: exit ' . $code . ' ' . TestEnv::redact($text));
        $this->assertNoStoreSecret($text, 'a cron run\'s output');
        $this->assertStringNotContainsString('panicked', $text);
        $summary = json_decode($p->stdout(), true);
        $out = ['code' => $code, 'ok' => false, 'sent' => 0, 'errors' => []];
        if (is_array($summary)) {
            $out['ok'] = $code === 0;
            foreach ($summary['summary'] as $shop) {
                $out['sent'] += (int) $shop['sent'];
                $out['ok'] = $out['ok'] && $shop['status'] === 'done';
                foreach ($shop['error_messages'] as $m) {
                    $out['errors'][] = $m;
                }
            }
        } else {
            $out['errors'][] = trim($p->stderr());
        }

        return $out;
    }

    /**
     * Runs crons (one after the other) until nothing is pending or sent.
     * Each must succeed: the server is back.
     */
    private function cronUntilSettled(int $max = 60): int
    {
        for ($runs = 1; $runs <= $max; $runs++) {
            $r = $this->cronResult($this->startCron("final-$runs"));
            $this->assertTrue($r['ok'], 'a run after the fault: ' . TestEnv::redact(json_encode($r)));
            $counts = $this->queue()->counts();
            if ($counts['pending'] + $counts['sent'] === 0) {
                return $runs;
            }
            usleep(300000); // tickets still running, or leases of runs that lost their connection
        }
        $this->fail('the queue did not settle: ' . json_encode($this->queue()->counts()));
    }

    /**
     * Every acknowledged order (id => state) reached the API and is done in
     * the queue; nothing was executed twice. Returns the sandbox's account
     * plus 'unacknowledged_stored': orders done in the queue whose save was
     * not acknowledged (a save whose commit reached the server but whose
     * answer was lost with the connection: stored, and sent, though the
     * caller saw an exception).
     */
    private function assertEveryOrderReachedTheApi(array $orders): array
    {
        $ticketed = $this->ticketed();
        $lost = 0;
        $done = array_flip(array_map('intval', $this->queue()->pdo()->query($this->queue()->sql("SELECT DISTINCT id_order FROM {queue} WHERE state = 'done'"))->fetchAll(PDO::FETCH_COLUMN)));
        foreach ($orders as $id => $state) {
            if (!isset($ticketed[self::OPERATION_OF[$state] . ':' . $id]) || !isset($done[$id])) {
                $lost++;
            }
        }
        $this->assertSame(0, $lost, 'every acknowledged order reached the API and is done');
        $counts = $this->queue()->counts();
        $this->assertSame(['pending' => 0, 'sent' => 0, 'failed' => 0], array_intersect_key($counts, ['pending' => 0, 'sent' => 0, 'failed' => 0]));
        $account = $this->sandboxAccount();
        $this->assertSame(0, (int) $account['stats']['duplicates'], 'no operation executed twice');
        $this->assertSame($account['ignored'], $account['resent'], 'every re-sent order was recognised as already performed');
        $this->assertSame('ok', $this->queue()->integrity());

        return $account + ['unacknowledged_stored' => count(array_diff_key($done, $orders))];
    }

    public function testARestartInTheMiddleOfADrainLosesNothing(): void
    {
        if (($why = MariaDb::whyNotControllable()) !== null) {
            $this->markTestSkipped($why);
        }
        $initial = Size::pick(300, 2000);
        $writes = Size::pick(3000, 12000);
        $crash = MariaDb::ownedByThisRun();
        Sandbox::config(['latency_ms' => 20, 'ticket_delay_ms' => 100]);
        $orders = $this->queueOrders(10000, $initial);

        // A web writer saving all along (2 ms between saves), through the outage.
        $writer = Proc::start(array_merge(TestEnv::phpCommand(), [__DIR__ . '/fixtures/writer.php', '200000', (string) $writes, 'r', '1', '2000']), $this->dir, 'writer');
        $crons = [null, null];
        $runs = [];
        $faults = [];
        $t0 = microtime(true);
        $deadline = $t0 + Size::pick(240, 900);
        $settledAfterFaults = false;
        while (!$settledAfterFaults) {
            if (microtime(true) > $deadline) {
                $this->fail('the drain did not end: ' . json_encode($this->queue()->counts()));
            }
            foreach ($crons as $n => $p) {
                if ($p !== null && !$p->running()) {
                    $runs[] = $this->cronResult($p) + ['after_faults' => count($faults)];
                    $p = null;
                }
                $crons[$n] = $p ?? $this->startCron('run-' . count($runs) . "-$n");
            }
            $done = $this->queue()->counts()['done'];
            // The faults, in the middle of the drain: a clean restart once a
            // quarter of the first orders are done, a crash at half.
            if (!$faults && $done >= $initial / 4) {
                $faults[] = ['fault' => 'restart', 'done_before' => $done, 'seconds' => round(MariaDb::restart(), 2)];
            } elseif ($crash && count($faults) === 1 && $done >= $initial / 2) {
                $t = microtime(true);
                MariaDb::crash();
                MariaDb::restart();
                $faults[] = ['fault' => 'SIGKILL + start', 'done_before' => $done, 'seconds' => round(microtime(true) - $t, 2)];
            }
            $allFaults = count($faults) === ($crash ? 2 : 1);
            if ($allFaults && !$writer->running()) {
                $c = $this->queue()->counts();
                $settledAfterFaults = $c['pending'] + $c['sent'] === 0;
            }
            usleep(50000);
        }
        foreach ($crons as $p) {
            if ($p !== null) {
                $runs[] = $this->cronResult($p) + ['after_faults' => count($faults)];
            }
        }
        $seconds = microtime(true) - $t0;

        // The writer: every save acknowledged or refused with the contract's
        // exception (no crash, no password), and saves acknowledged again
        // after each outage: the same process reconnected.
        $this->assertSame(0, $writer->wait(10), TestEnv::redact($writer->stderr()));
        $lines = explode("\n", trim($writer->stdout()));
        $this->assertSame('done', end($lines));
        $acked = 0;
        $refused = 0;
        $ackedAfterRefusal = 0;
        foreach ($lines as $line) {
            if (preg_match('/^ok (\d+) \S+$/', $line, $m)) {
                $orders[(int) $m[1]] = self::SHIPPED;
                $acked++;
                $ackedAfterRefusal += $refused > 0 ? 1 : 0;
            } elseif (strpos($line, 'error ') === 0) {
                $this->assertStringStartsWith('error ShoppingfeedSyncException ', $line);
                $this->assertNoStoreSecret($line, 'a refused save');
                $refused++;
            }
        }
        $this->assertGreaterThan(0, $ackedAfterRefusal, 'the writer saved again after the outage (its connection was reopened)');
        $this->assertGreaterThanOrEqual(count($orders), ShoppingfeedOrderSyncQueue::counts(1)['done'], 'this process\'s own connection works after the restart');

        $account = $this->assertEveryOrderReachedTheApi($orders);
        $this->assertLessThanOrEqual($refused, $account['unacknowledged_stored'], 'only refused saves can be stored unacknowledged');
        $failedRuns = count(array_filter($runs, static function ($r) {
            return !$r['ok'];
        }));
        $afterLast = array_filter($runs, static function ($r) use ($faults) {
            return $r['after_faults'] === count($faults);
        });
        $this->assertNotEmpty(array_filter($afterLast, static function ($r) {
            return $r['ok'] && $r['sent'] > 0;
        }), 'runs after the last fault sent and ended done');
        Figures::record('database', 'database restarted in the middle of a drain (a writer saving all along)', [
            'orders' => count($orders),
            'faults' => $faults,
            'cron_runs' => count($runs),
            'cron_runs_failed_by_the_outage' => $failedRuns,
            'writer_saves_acknowledged' => $acked,
            'writer_saves_refused' => $refused,
            'refused_but_stored' => $account['unacknowledged_stored'],
            'lost' => 0,
            'resent' => $account['resent'],
            'resent_ignored_by_api' => $account['ignored'],
            'executed_twice' => (int) $account['stats']['duplicates'],
            'seconds' => round($seconds, 1),
        ]);
    }

    public function testConnectionsKilledByTheServerMidRunLoseNothing(): void
    {
        $initial = Size::pick(200, 1000);
        $kills = Size::pick(6, 30);
        // Latency: a run spends most of its time waiting for the API, with its
        // connection idle (the common case of a killed connection); some kills
        // land inside its transactions.
        Sandbox::config(['latency_ms' => 80, 'ticket_delay_ms' => 100]);
        $orders = $this->queueOrders(20000, $initial);

        $killed = 0;
        $runs = [];
        $p = $this->startCron('killed-0');
        $thisRunKilled = false;
        $extra = 30000;
        $t0 = microtime(true);
        $deadline = $t0 + Size::pick(120, 600);
        while (true) {
            $this->assertLessThan($deadline, microtime(true), "not enough kills landed: $killed");
            if (!$p->running()) {
                $runs[] = $this->cronResult($p) + ['killed' => $thisRunKilled];
                $thisRunKilled = false;
                if ($killed >= $kills) {
                    break;
                }
                if ($this->queue()->counts()['pending'] === 0) {
                    // Nothing left to claim: more orders for the next kills.
                    $orders += $this->queueOrders($extra, 50);
                    $extra += 50;
                }
                $p = $this->startCron('killed-' . count($runs));
            }
            usleep(mt_rand(100000, 400000));
            if ($killed < $kills) {
                foreach (MariaDb::connectionsOf($p->pid) as $id) {
                    if (MariaDb::kill($id)) {
                        $killed++;
                        $thisRunKilled = true;
                    }
                }
            }
        }

        // A long-lived process (an FPM worker) whose idle connection the
        // server dropped: its next call reconnects. This process saved the
        // orders above through its own connection (the reader's is left alone).
        $own = array_diff(MariaDb::connectionsOf(getmypid()), [$this->queue()->connectionId()]);
        $this->assertNotEmpty($own, 'this process has its connection to the queue');
        foreach ($own as $id) {
            $this->assertTrue(MariaDb::kill($id));
        }
        $this->save(29999, $this->snapshot(29999, self::SHIPPED));
        $orders[29999] = self::SHIPPED;

        $finalRuns = $this->cronUntilSettled();
        $account = $this->assertEveryOrderReachedTheApi($orders);
        $killedRuns = array_values(array_filter($runs, static function ($r) {
            return !empty($r['killed']);
        }));
        Figures::record('database', 'connections KILLed by the server in the middle of cron runs, and under an idle process', [
            'orders' => count($orders),
            'kills' => $killed + count($own),
            'runs_with_a_kill' => count($killedRuns),
            'killed_runs_that_still_ended_done' => count(array_filter($killedRuns, static function ($r) {
                return $r['ok'];
            })),
            'killed_run_exits' => array_count_values(array_map(static function ($code) {
                return "exit $code";
            }, array_column($killedRuns, 'code'))),
            'idle_process_next_save' => 'ok',
            'final_runs' => $finalRuns,
            'lost' => 0,
            'resent' => $account['resent'],
            'resent_ignored_by_api' => $account['ignored'],
            'executed_twice' => (int) $account['stats']['duplicates'],
            'seconds' => round(microtime(true) - $t0, 1),
        ]);
    }
}
