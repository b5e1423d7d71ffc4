<?php

/**
 * Claims are exclusive: two cron runs at the same time on one queue never
 * send the same row twice.
 */
final class ConcurrencyTest extends SyncTestCase
{
    private function queueShipped(int $count): void
    {
        for ($i = 1; $i <= $count; $i++) {
            $this->save($i, $this->snapshot(50000 + $i, self::SHIPPED));
        }
    }

    public function testTwoClaimsInOneProcessNeverOverlap(): void
    {
        $this->queueShipped(20);
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => 10];
        $a = $this->actions($this->conveyor([], $settings));
        $b = $this->actions($this->conveyor([], $settings));
        $c = $this->actions($this->conveyor([], $settings));
        $this->assertTrue($a->getBatch());
        $this->assertTrue($b->getBatch());
        $this->assertFalse($c->getBatch(), 'every due row is leased');
        $claimA = self::ids($a->getConveyor()['batch']);
        $claimB = self::ids($b->getConveyor()['batch']);
        $this->assertCount(10, $claimA);
        $this->assertCount(10, $claimB);
        $this->assertSame([], array_values(array_intersect($claimA, $claimB)), 'no row in two claims');
        $this->assertNotSame($a->getConveyor()['claim'] ?? null, $b->getConveyor()['claim'] ?? null, 'each claim has its own lease token');

        // Each run only touches the rows of its own claim.
        $this->assertTrue($b->prepareBatch());
        $this->assertTrue($b->sendBatch());
        $this->assertSame($claimB, self::ids($b->getConveyor()['sent'] ?? []));
        $this->assertSame(10, ShoppingfeedOrderSyncQueue::counts(1)['sent']);
        $this->assertSame(10, ShoppingfeedOrderSyncQueue::counts(1)['pending'], "a's rows are untouched by b");
    }

    public function testTwoCronProcessesAtOnceSendNothingTwice(): void
    {
        $total = 300;
        $this->queueShipped($total);
        Sandbox::config(['latency_ms' => 30]);
        Sandbox::clearLog();

        $startAt = (string) round(microtime(true) * 1000 + 400);
        $workers = [];
        foreach ([1, 2] as $n) {
            $cmd = array_merge(TestEnv::phpCommand(), [__DIR__ . '/fixtures/cron-worker.php', $startAt, '20']);
            $process = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
            $this->assertIsResource($process);
            $workers[$n] = [$process, $pipes];
        }
        $results = [];
        foreach ($workers as $n => [$process, $pipes]) {
            [$out, $err] = TestEnv::drain($pipes, $process, 60);
            $code = TestEnv::close($process);
            $this->assertSame(0, $code, "worker $n exited with $code: $err");
            $results[$n] = json_decode(trim($out), true);
            $this->assertIsArray($results[$n], "worker $n printed JSON: $out $err");
            $this->assertNull($results[$n]['exception'], "worker $n: " . $results[$n]['exception']);
        }

        $claimed1 = $results[1]['claimed'];
        $claimed2 = $results[2]['claimed'];
        $this->assertNotEmpty($claimed1, 'both processes took part');
        $this->assertNotEmpty($claimed2, 'both processes took part');
        $this->assertSame([], array_values(array_intersect($claimed1, $claimed2)), 'no row claimed by both');
        $this->assertCount($total, array_unique(array_merge($claimed1, $claimed2)), 'every row claimed');
        $this->assertCount($total, array_merge($results[1]['sent'], $results[2]['sent']));

        $stats = Sandbox::stats();
        $this->assertSame(0, $stats['duplicates'], 'the sandbox saw no order twice');
        $this->assertSame($total, $stats['orders_received']['ship']);
        $keys = self::elementKeys(Sandbox::orderPosts(202));
        $this->assertCount($total, $keys);
        $this->assertCount($total, array_unique($keys), 'every order sent exactly once');
        $this->assertSame($total, ShoppingfeedOrderSyncQueue::counts(1)['done'], 'both processes\' check chains settled every row');
    }

    public function testTwoCliRunnersWithoutTheLockShareTheQueue(): void
    {
        $total = 120;
        $this->queueShipped($total);
        Sandbox::config(['latency_ms' => 20]);
        $runners = [];
        foreach ([1, 2] as $n) {
            $cmd = array_merge(TestEnv::phpCommand(), [
                TestEnv::$root . '/php/tools/bin/sync-orders.php', '--shop=1', '--store-id=42', '--no-lock', '--json',
                '--set', 'SHOPPINGFEED_SHIPPED_ORDERS=[4]', '--set', 'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT=0',
                '--set', 'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS=10',
            ]);
            $env = array_merge(getenv(), ['SHOPPINGFEED_AUTH_TOKEN' => self::TOKEN]);
            $process = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
            $runners[$n] = [$process, $pipes];
        }
        $sent = 0;
        foreach ($runners as $n => [$process, $pipes]) {
            [$out, $err] = TestEnv::drain($pipes, $process, 60);
            $this->assertSame(0, TestEnv::close($process), "runner $n: $err $out");
            $summary = json_decode($out, true);
            $this->assertIsArray($summary, $out);
            $sent += $summary['summary'][1]['sent'] ?? $summary['summary']['1']['sent'];
        }
        $this->assertSame($total, $sent, 'the two runners together sent each row once');
        $this->assertSame(0, Sandbox::stats()['duplicates']);
        $this->assertSame($total, Sandbox::stats()['orders_received']['ship']);
    }
}
