<?php

/**
 * Several cron processes (the real CLI, without its process lock) and many
 * saveOrder writers on one queue at once (a SQLite file, or a MySQL table in
 * mysql runs): no row sent twice, no "database is locked" (or lock wait
 * error) reaching PHP, no lost write.
 */
final class ConcurrencyStressTest extends ReliabilityTestCase
{
    /**
     * Reads the sandbox's log since $seq and counts the snapshots (tracking
     * numbers) of the accepted order POSTs. Read while the test runs: the
     * sandbox keeps the bodies of its last 2,000 requests only.
     */
    private static function collectSent(int &$seq, array &$sentTracking): void
    {
        $log = Sandbox::request('GET', '/_sandbox/log?since=' . $seq)['requests'] ?? [];
        foreach ($log as $entry) {
            $seq = max($seq, (int) $entry['seq']);
            if (($entry['method'] ?? '') !== 'POST' || ($entry['status'] ?? null) !== 202 || strpos((string) $entry['path'], '/order/') === false) {
                continue;
            }
            $body = is_string($entry['body']) ? json_decode($entry['body'], true) : $entry['body'];
            if (!is_array($body)) {
                throw new RuntimeException('the sandbox no longer holds the body of request ' . $entry['seq']);
            }
            foreach ($body['order'] as $el) {
                $sentTracking[$el['trackingNumber']] = ($sentTracking[$el['trackingNumber']] ?? 0) + 1;
            }
        }
    }

    public function testCronsAndWritersShareOneQueue(): void
    {
        $writers = Size::pick(8, 12);
        $perWriter = Size::pick(500, 3000);
        $crons = Size::pick(3, 6);
        $maxOrders = Size::pick(20, 50);
        $settings = [
            'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => (string) $maxOrders,
            'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0',
        ];
        Sandbox::config(['latency_ms' => 5, 'ticket_delay_ms' => 50]);
        // Open (create) the queue first: many processes then share one file.
        ShoppingfeedOrderSyncQueue::counts(1);

        $t0 = microtime(true);
        $w = [];
        for ($i = 0; $i < $writers; $i++) {
            // Each order saved twice: the second save replaces a pending snapshot,
            // or queues a new row when a cron has already claimed the first.
            $w[$i] = Proc::start(
                array_merge(TestEnv::phpCommand(), [__DIR__ . '/fixtures/writer.php', (string) (1000000 + $i * 100000), (string) $perWriter, "w$i", '2', '2500', '4']),
                $this->dir,
                "writer-$i"
            );
        }
        $slots = array_fill(0, $crons, null);
        $cronRuns = 0;
        $seq = 0;
        $sentTracking = [];
        $lastRead = microtime(true);
        $cronErrors = [];
        $deadline = microtime(true) + Size::pick(150, 900);
        while (true) {
            $this->assertLessThan($deadline, microtime(true), 'the concurrent run did not settle in time: ' . json_encode($this->queue()->counts()));
            $writing = false;
            foreach ($w as $p) {
                $writing = $writing || $p->running();
            }
            $settled = false;
            if (!$writing) {
                $c = $this->queue()->counts();
                $settled = $c['pending'] + $c['sent'] === 0;
            }
            $busy = false;
            foreach ($slots as $n => $p) {
                if ($p !== null && $p->running()) {
                    $busy = true;
                    continue;
                }
                if ($p !== null) {
                    $code = $p->wait(5);
                    $this->assertSame(0, $code, "cron run: exit $code " . $p->stderr() . $p->stdout());
                    $summary = json_decode($p->stdout(), true);
                    $this->assertIsArray($summary, $p->stdout() . $p->stderr());
                    foreach ($summary['summary'] as $shop) {
                        foreach ($shop['error_messages'] as $m) {
                            $cronErrors[] = $m;
                        }
                        $this->assertSame('done', $shop['status'], json_encode($shop));
                    }
                    $this->assertSame('', trim($p->stderr()), 'the cron wrote nothing to stderr');
                    $slots[$n] = null;
                }
                if (!$settled) {
                    $slots[$n] = Proc::start($this->cronCommand($settings), $this->dir, 'cron-' . (++$cronRuns), ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
                    $busy = true;
                }
            }
            if (microtime(true) - $lastRead > 0.5) {
                self::collectSent($seq, $sentTracking);
                $lastRead = microtime(true);
            }
            if ($settled && !$busy) {
                break;
            }
            usleep(20000);
        }
        self::collectSent($seq, $sentTracking);
        $seconds = microtime(true) - $t0;

        // The writers: every save acknowledged, no exception (no "database is locked").
        $latest = [];
        $saves = 0;
        foreach ($w as $i => $p) {
            $this->assertSame(0, $p->wait(5), $p->stderr());
            $lines = explode("\n", trim($p->stdout()));
            $this->assertSame('done', end($lines), "writer $i finished");
            foreach ($lines as $line) {
                if (preg_match('/^ok (\d+) (\S+)$/', $line, $m)) {
                    $latest[(int) $m[1]] = $m[2];
                    $saves++;
                } elseif ($line !== 'done') {
                    $this->fail("writer $i: $line");
                }
            }
        }
        $this->assertSame($writers * $perWriter * 2, $saves, 'every saveOrder returned true');
        $this->assertSame([], $cronErrors, 'no cron error (no database is locked)');
        $this->assertSame('ok', $this->queue()->integrity());

        // Every row was sent at most once; every order's latest snapshot reached the API.
        $twice = array_filter($sentTracking, static function ($n) {
            return $n > 1;
        });
        $this->assertSame([], $twice, 'no snapshot (no row) sent twice');
        $rows = $this->queue()->rows();
        $counts = $this->queue()->counts();
        $this->assertSame(0, $counts['pending'] + $counts['sent'] + $counts['failed']);
        $newest = [];
        $unsent = 0;
        foreach ($rows as $row) {
            $tracking = json_decode($row['payload'], true)['tracking_number'];
            $newest[(int) $row['id_order']] = $tracking; // rows come in id order: the last one wins
            if (!isset($sentTracking[$tracking])) {
                $unsent++;
                $this->assertStringStartsWith('superseded', (string) $row['last_error'], "row {$row['id_shoppingfeed_order']} was neither sent nor superseded");
            }
        }
        $this->assertCount(count($latest), $newest, 'every order is in the queue');
        foreach ($latest as $id => $tracking) {
            $this->assertSame($tracking, $newest[$id], "order $id: its latest saved snapshot is the newest row");
            $this->assertArrayHasKey($tracking, $sentTracking, "order $id: its latest snapshot reached the API");
        }
        $stats = Sandbox::stats();
        $this->assertSame(0, (int) $stats['duplicates']);
        Figures::record('concurrency', 'cron processes + saveOrder writers on one queue', [
            'writers' => $writers,
            'saves' => $saves,
            'cron_processes' => $crons,
            'cron_runs' => $cronRuns,
            'orders' => count($latest),
            'rows' => count($rows),
            'rows_sent' => array_sum($sentTracking),
            'rows_sent_twice' => count($twice),
            'superseded_unsent' => $unsent,
            'locked_errors' => 0,
            'lost' => 0,
            'api_max_in_flight' => (int) $stats['max_in_flight'],
            'seconds' => round($seconds, 1),
        ]);
    }

    public function testASaveBlockedByAnotherWriterWaitsInsteadOfFailing(): void
    {
        ShoppingfeedOrderSyncQueue::counts(1);
        $hold = 2.0;
        $this->queue()->holdWriteLock(); // another process holds the write lock (a backup, a long write)
        $w = Proc::start(array_merge(TestEnv::phpCommand(), [__DIR__ . '/fixtures/writer.php', '5000', '3', 'held']), $this->dir, 'blocked-writer');
        usleep((int) ($hold * 1000000));
        $this->assertTrue($w->running(), 'the writer waits for the lock');
        $this->queue()->releaseWriteLock();
        $t = microtime(true);
        $this->assertSame(0, $w->wait(15));
        $this->assertSame("ok 5000 held-5000-1\nok 5001 held-5001-1\nok 5002 held-5002-1\ndone\n", $w->stdout());
        $this->assertSame(3, $this->queue()->counts()['pending']);
        Figures::record('concurrency', 'a save behind a 2 s write lock of another process', ['waited_s' => $hold, 'lost' => 0, 'locked_errors' => 0]);

        if (!Size::full()) {
            return;
        }
        // Beyond the store's patience: a clear exception, nothing half-written.
        // SQLite: the 10 s busy timeout; MySQL: three lock waits of 5 s
        // (innodb_lock_wait_timeout of the store's sessions, 3 tries).
        $this->queue()->holdWriteLock();
        $w = Proc::start(array_merge(TestEnv::phpCommand(), [__DIR__ . '/fixtures/writer.php', '6000', '1', 'late']), $this->dir, 'timed-out-writer');
        $code = $w->wait(30);
        $this->queue()->releaseWriteLock();
        $this->assertSame(0, $code);
        $this->assertMatchesRegularExpression('/^error ShoppingfeedSyncException .*(locked|busy|lock wait)/mi', $w->stdout());
        $this->assertNoStoreSecret($w->stdout(), 'the timed-out save\'s message');
        $this->assertSame(0, (int) $this->queue()->scalar('SELECT COUNT(*) FROM {queue} WHERE id_order = 6000'));
        Figures::record('concurrency', 'a save behind a write lock held longer than the store waits (SQLite 10 s busy timeout, MySQL 3 x 5 s lock waits)', ['result' => 'ShoppingfeedSyncException, nothing written']);
    }
}
