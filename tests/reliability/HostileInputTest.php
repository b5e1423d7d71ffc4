<?php

/**
 * Hostile input: thousands of random conveyors, snapshots, settings and
 * arguments to every public method (fixtures/fuzz.php, in a child process so
 * that a crash is seen as one), and SQL injection strings in every snapshot
 * field, stored and sent verbatim.
 */
final class HostileInputTest extends ReliabilityTestCase
{
    public function testFuzzEveryPublicMethodOnlyThrowsTheContractsExceptions(): void
    {
        $runs = Size::pick(3, 10);
        $iterations = Size::pick(4000, 20000);
        $base = (int) (getenv('RELIABILITY_SEED') ?: random_int(1, 1 << 30));
        $totals = ['ok' => 0, 'sync' => 0, 'api' => 0, 'type' => 0, 'unexpected' => 0];
        $calls = [];
        ini_set('shoppingfeed_sync.timeout_ms', '1000');
        for ($r = 0; $r < $runs; $r++) {
            $seed = $base + $r;
            $db = TestEnv::newQueueDatabase($this->dir, "fuzz-$r");
            $cmd = array_merge(
                TestEnv::phpCommand(['shoppingfeed_sync.database' => $db]),
                [__DIR__ . '/fixtures/fuzz.php', (string) $seed, (string) $iterations]
            );
            $p = Proc::start($cmd, $this->dir, "fuzz-$r");
            $code = $p->wait(600);
            $lastLines = implode("\n", array_slice(explode("\n", trim($p->stderr())), -3));
            $this->assertSame(0, $code, "the fuzzer died (exit $code) - replay: fuzz.php $seed $iterations; last progress: $lastLines");
            $summary = json_decode($p->stdout(), true);
            $this->assertIsArray($summary, $p->stdout() . $p->stderr());
            $this->assertSame($iterations, $summary['iterations']);
            $this->assertSame([], $summary['unexpected'], "seed $seed: only ShoppingfeedSyncException or TypeError");
            $this->assertSame([], $summary['changed_on_reject'], "seed $seed: a rejected call left the queue unchanged");
            $this->assertSame('ok', $summary['integrity']);
            foreach ($summary['outcomes'] as $method => $outcomes) {
                foreach ($outcomes as $outcome => $n) {
                    $totals[$outcome] += $n;
                    $calls[$method] = ($calls[$method] ?? 0) + $n;
                }
            }
        }
        $this->assertGreaterThan(0, $totals['sync']);
        $this->assertGreaterThan(0, $totals['type']);
        $this->assertGreaterThan(0, $totals['ok']);
        ksort($calls);
        Figures::record('hostile', 'fuzz of every public method (random conveyors, snapshots, arguments)', [
            'seeds' => "$base.." . ($base + $runs - 1),
            'calls' => $runs * $iterations,
            'returned' => $totals['ok'],
            'ShoppingfeedSyncException' => $totals['sync'],
            'ShoppingfeedApiException' => $totals['api'],
            'TypeError' => $totals['type'],
            'other' => $totals['unexpected'],
            'crashes' => 0,
            'queue_changed_by_rejected_call' => 0,
            'per_method' => $calls,
        ]);
    }

    private const INJECTIONS = [
        'carrier' => "'; DROP TABLE shoppingfeed_order; --",
        'tracking_number' => '" OR "1"="1',
        'tracking_url' => "https://t.example/?q=1' UNION SELECT * FROM sqlite_master --",
        'reason' => "Robert'); DELETE FROM shoppingfeed_order WHERE ('1'='1",
        'extra' => "\\'; UPDATE shoppingfeed_order SET state='done'; -- \0 nul",
        'reference' => "REF'); DROP TABLE shoppingfeed_order; --",
        'marketplace' => "Amazon' OR 1=1 --",
        'sku' => "SKU%' AND 1=(SELECT COUNT(*) FROM sqlite_master) --",
        // MySQL's dialect: backticks, # comments, information_schema, SLEEP.
        'mysql' => "`'; DROP TABLE shoppingfeed_order_sync_queue; # \\' UNION SELECT table_name FROM information_schema.tables; SELECT SLEEP(5) -- ",
    ];

    public function testSqlInjectionStringsAreStoredAndSentVerbatim(): void
    {
        $inj = self::INJECTIONS;
        $common = [
            'carrier' => $inj['carrier'],
            'tracking_number' => $inj['tracking_number'],
            'tracking_url' => $inj['tracking_url'],
            'reason' => $inj['reason'],
            "x'); DROP TABLE shoppingfeed_order; --" => $inj['extra'],
            "`x`; DROP TABLE `shoppingfeed_order_sync_queue`; #" => $inj['mysql'],
            'nested' => ['a' => $inj['extra'], "b' OR '1'='1" => [$inj['carrier']]],
        ];
        $snapshots = [
            1 => ['id_internal_shoppingfeed' => 501, 'id_order_state' => self::SHIPPED] + $common,
            2 => ['id_internal_shoppingfeed' => 502, 'id_order_state' => self::CANCELLED] + $common,
            3 => ['id_internal_shoppingfeed' => 503, 'id_order_state' => self::REFUNDED, 'refund' => ['shipping' => false, 'products' => [['reference' => $inj['sku'], 'quantity' => 2]]]] + $common,
            4 => ['reference' => $inj['reference'], 'marketplace' => $inj['marketplace'], 'id_order_state' => self::DELIVERED] + $common,
            5 => ['reference' => $inj['reference'] . '-ship', 'marketplace' => $inj['marketplace'], 'id_order_state' => self::SHIPPED] + $common,
        ];
        foreach ($snapshots as $idOrder => $snapshot) {
            $this->save($idOrder, $snapshot);
            $rows = ShoppingfeedOrderSyncQueue::find($idOrder);
            $this->assertCount(1, $rows);
            $this->assertSame($snapshot, $rows[0]['payload'], "order $idOrder: the snapshot is stored verbatim (keys, values, order)");
        }
        $this->assertSame(['pending' => 5, 'sent' => 0, 'done' => 0, 'failed' => 0], $this->queue()->counts(), 'the table is intact');

        // The API will fail one ticket with a message made of SQL too.
        Sandbox::config(['fail_orders' => ['502' => $inj['extra']]]);
        $run = $this->send();
        $this->assertCount(5, $run['conveyor']['sent'] ?? [], json_encode($run['conveyor']['errors'] ?? []));
        $elements = [];
        foreach (Sandbox::orderPosts(202) as $post) {
            foreach ($post['elements'] as $el) {
                $elements[$post['operation'] . ':' . ($el['id'] ?? $el['reference'])] = $el;
            }
        }
        $this->assertSame(['id' => 501, 'carrier' => $inj['carrier'], 'trackingNumber' => $inj['tracking_number'], 'trackingLink' => $inj['tracking_url']], $elements['ship:501']);
        $this->assertSame(['id' => 502, 'reason' => $inj['reason']], $elements['cancel:502']);
        $this->assertSame(['id' => 503, 'refund' => ['shipping' => false, 'products' => [['reference' => $inj['sku'], 'quantity' => 2]]]], $elements['refund:503']);
        $this->assertSame(['reference' => $inj['reference'], 'channelName' => $inj['marketplace']], $elements['deliver:' . $inj['reference']]);
        $this->assertSame(['reference' => $inj['reference'] . '-ship', 'channelName' => $inj['marketplace'], 'carrier' => $inj['carrier'], 'trackingNumber' => $inj['tracking_number'], 'trackingLink' => $inj['tracking_url']], $elements['ship:' . $inj['reference'] . '-ship']);

        // A ticket's failure message and a settle() message come back verbatim too.
        $this->drain(['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '1']);
        $row = ShoppingfeedOrderSyncQueue::find(2)[0];
        $this->assertSame(['failed', $inj['extra']], [$row['state'], $row['last_error']]);
        $this->assertSame(1, ShoppingfeedOrderSyncQueue::retryFailed(1, [2]));
        $settle = $this->actions($this->conveyor());
        $this->assertSame(1, $settle->settle([(int) $row['id_shoppingfeed_order']], ShoppingfeedOrderSyncQueue::STATE_DONE, $inj['carrier']));
        $this->assertSame($inj['carrier'], ShoppingfeedOrderSyncQueue::find(2)[0]['last_error']);
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 5, 'failed' => 0], $this->queue()->counts());
        $this->assertSame('ok', $this->queue()->integrity());
        $this->assertSame([$this->queue()->table()], $this->queue()->tables(), 'the queue table is still the only one');
        Figures::record('hostile', 'SQL injection strings in every snapshot field', ['orders' => 5, 'fields' => count($inj), 'stored_verbatim' => true, 'sent_verbatim' => true, 'lost' => 0]);
    }

    public function testInjectionInIdsAndNamesIsRefusedByName(): void
    {
        $cases = [
            ['id_order' => '1 OR 1=1', 'key' => 'id_order'],
            ['id_order' => "1; DROP TABLE shoppingfeed_order", 'key' => 'id_order'],
            ['id_shop' => "1' OR '1'='1", 'key' => 'id_shop'],
            ['order_action' => "SYNC_STATUS'; DROP TABLE shoppingfeed_order; --", 'key' => 'order_action'],
            ['order_action' => 'SYNC_STATUS OR 1=1', 'key' => 'order_action'],
        ];
        foreach ($cases as $case) {
            $key = $case['key'];
            unset($case['key']);
            $a = $this->actions($this->conveyor($case + ['id_order' => 7, 'order' => $this->snapshot(7)]));
            try {
                $a->saveOrder();
                $this->fail("$key accepted an injection");
            } catch (ShoppingfeedSyncException $e) {
                $this->assertStringContainsString($key, $e->getMessage());
            }
        }
        try {
            ShoppingfeedOrderSyncQueue::find('1 OR 1=1');
            $this->fail('find accepted a string');
        } catch (TypeError $e) {
            $this->assertStringContainsString('idOrder', $e->getMessage());
        }
        $this->assertSame(['pending' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0], ShoppingfeedOrderSyncQueue::counts(1));
    }
}
