<?php

/**
 * SHOPPINGFEED_REAL_TIME_MODE=background: a real-time saveOrder returns once
 * the update is durable and the process's background sender delivers it,
 * combining the updates of many saves, whatever the API does. The sender of
 * this PHPUnit process serves every test (its counters are read as deltas).
 */
final class BackgroundSenderTest extends SyncTestCase
{
    private function background(array $overrides = []): array
    {
        return ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1', 'SHOPPINGFEED_REAL_TIME_MODE' => 'background'] + $overrides;
    }

    /** saveOrder of a cancel (due at once) in background mode; returns [seconds it took, the conveyor after it]. */
    private function saveTimed(int $idOrder, array $settings = [], string $class = 'ShoppingfeedOrderSyncStatusActions'): array
    {
        $actions = $this->actions($this->conveyor(['id_order' => $idOrder, 'order' => $this->snapshot(8000 + $idOrder, self::CANCELLED)],
            $this->background($settings)), $class);
        $t0 = microtime(true);
        $this->assertTrue($actions->saveOrder());

        return [microtime(true) - $t0, $actions->getConveyor()];
    }

    /** Waits until $done() or $seconds pass; returns whether it became true. */
    private static function waitFor(callable $done, float $seconds = 5.0): bool
    {
        $until = microtime(true) + $seconds;
        while (microtime(true) < $until) {
            if ($done()) {
                return true;
            }
            usleep(10000);
        }

        return (bool) $done();
    }

    private function counts(): array
    {
        return ShoppingfeedOrderSyncQueue::counts(1);
    }

    /** Rows leased to a run right now (the queue's overview). */
    private static function claimed(): int
    {
        return array_sum(array_column(ShoppingfeedOrderSyncQueue::overview(), 'claimed'));
    }

    public function testSavesReturnAtOnceAndTheSenderCombinesThemIntoBulkRequests(): void
    {
        Sandbox::config(['latency_ms' => 200]);
        $before = ShoppingfeedOrderSyncQueue::backgroundSender();
        $slowest = 0.0;
        for ($i = 1; $i <= 100; $i++) {
            [$took, $conveyor] = $this->saveTimed($i);
            $slowest = max($slowest, $took);
            $this->assertTrue($conveyor['background'], 'handed to the background sender');
            $this->assertArrayNotHasKey('sent', $conveyor, 'no network call in saveOrder');
        }
        $this->assertLessThan(0.15, $slowest, 'no save waited for the API (200 ms a request)');
        $this->assertTrue(self::waitFor(function () {
            return $this->counts()['sent'] === 100;
        }), 'delivered within seconds: ' . json_encode($this->counts()));
        $posts = Sandbox::orderPosts(202);
        $this->assertLessThanOrEqual(2, count($posts), '100 saves in at most 2 requests');
        $this->assertSame(100, array_sum(array_map(static function ($p) {
            return count($p['elements']);
        }, $posts)));
        $after = ShoppingfeedOrderSyncQueue::backgroundSender();
        $this->assertTrue($after['running']);
        $this->assertSame(100, $after['accepted'] - $before['accepted']);
        $this->assertSame(100, $after['sent'] - $before['sent']);
        // The tickets are read by the cron's check chain, as in batch mode.
        $this->check();
        $this->assertSame(100, $this->counts()['done']);
    }

    public function testAHangingApiNeverMakesTheMerchantWaitAndTheRowsStayForTheCron(): void
    {
        Sandbox::config(['hang' => true]);
        ini_set('shoppingfeed_sync.timeout_ms', '400');
        $slowest = 0.0;
        for ($i = 1; $i <= 20; $i++) {
            $slowest = max($slowest, $this->saveTimed(100 + $i)[0]);
        }
        $this->assertLessThan(0.1, $slowest, 'the hang is the sender\'s problem, not the request\'s');
        $this->assertTrue(self::waitFor(function () {
            $rows = ShoppingfeedOrderSyncQueue::find(101);

            return $rows && $rows[0]['attempts'] === 1;
        }), 'the sender\'s try timed out and counted');
        $row = ShoppingfeedOrderSyncQueue::find(101)[0];
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(0, self::claimed(), 'no lease left');
        $this->assertSame(0, $row['failures'], 'an outage is no failure');
        $this->assertSame(20, $this->counts()['pending']);
        Sandbox::config(['hang' => false]);
        ini_set('shoppingfeed_sync.timeout_ms', '3000');
        $this->sendAll();
        $this->assertSame(20, $this->counts()['sent'], 'the cron sends what the sender could not');
    }

    public function testARefusedTokenLosesNoAttemptAndIsReported(): void
    {
        $actions = $this->actions($this->conveyor(['id_order' => 201, 'token' => 'not-the-token', 'order' => $this->snapshot(8201, self::CANCELLED)],
            $this->background()));
        $this->assertTrue($actions->saveOrder());
        $this->assertTrue(self::waitFor(function () {
            return strpos((string) ShoppingfeedOrderSyncQueue::backgroundSender()['last_error'], 'refused the API token') !== false;
        }), json_encode(ShoppingfeedOrderSyncQueue::backgroundSender()));
        $this->assertStringNotContainsString('not-the-token', json_encode(ShoppingfeedOrderSyncQueue::backgroundSender()));
        $row = $this->rowOf(201);
        $this->assertSame([ShoppingfeedOrderSyncQueue::STATE_PENDING, 0], [$row['state'], $row['attempts']]);
        $this->assertSame(0, self::claimed(), 'released at once');
    }

    public function testAnOverrideWrittenInPhpKeepsTheInlineChain(): void
    {
        [, $conveyor] = $this->saveTimed(301, [], 'BackgroundTestOwnSendActions');
        $this->assertArrayNotHasKey('background', $conveyor, 'not handed to the sender');
        $this->assertSame(1, BackgroundTestOwnSendActions::$calls, 'its own sendBatch ran, inline');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(301)['state']);
    }

    public function testAMalformedModeIsRefusedByNameAndTheQueueUntouched(): void
    {
        $actions = $this->actions($this->conveyor(['id_order' => 401, 'order' => $this->snapshot(8401, self::CANCELLED)],
            ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1', 'SHOPPINGFEED_REAL_TIME_MODE' => 'later']));
        try {
            $actions->saveOrder();
            $this->fail('a mode "later" was accepted');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('SHOPPINGFEED_REAL_TIME_MODE', $e->getMessage());
        }
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(401));
    }

    public function testACliScriptEndingRightAfterItsSavesStillDeliversThem(): void
    {
        Sandbox::config(['latency_ms' => 100]);
        $script = $this->dir . '/save-and-exit.php';
        file_put_contents($script, '<?php
            for ($i = 1; $i <= 30; $i++) {
                $a = new ShoppingfeedOrderSyncStatusActions();
                $a->setConveyor(["id_order" => 500 + $i, "id_shop" => 1, "order_action" => "SYNC_STATUS", "token" => ' . var_export(self::TOKEN, true)
                . ', "shoppingfeed_store_id" => ' . self::STORE_ID . ', "settings" => ["SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION" => "1",
                  "SHOPPINGFEED_REAL_TIME_MODE" => "background", "SHOPPINGFEED_CANCELLED_ORDERS" => "[6]"],
                  "order" => ["id_internal_shoppingfeed" => 8500 + $i, "id_order_state" => 6]]);
                $a->saveOrder();
            }
            echo "saved\n";');
        $t0 = microtime(true);
        [$code, $out, $err] = TestEnv::run(array_merge(TestEnv::phpCommand(), [$script]));
        $took = microtime(true) - $t0;
        $this->assertSame(0, $code, $err);
        $this->assertSame("saved\n", $out);
        $this->assertSame('', $err);
        $this->assertLessThan(3.5, $took, 'the exit waits a bounded time');
        $this->assertSame(30, $this->counts()['sent'], 'sent before the process ended: ' . json_encode($this->counts()));
        // One request, or two when a 100 ms slot of the sender ended while
        // the script was still saving (the rest then goes at the exit).
        $this->assertLessThanOrEqual(2, count(Sandbox::orderPosts(202)));
    }

    public function testACliScriptEndingWhileTheApiHangsLeavesItsRowsToTheCronUnleased(): void
    {
        Sandbox::config(['hang' => true]);
        $script = $this->dir . '/save-and-exit.php';
        file_put_contents($script, '<?php
            $a = new ShoppingfeedOrderSyncStatusActions();
            $a->setConveyor(["id_order" => 601, "id_shop" => 1, "order_action" => "SYNC_STATUS", "token" => ' . var_export(self::TOKEN, true)
            . ', "shoppingfeed_store_id" => ' . self::STORE_ID . ', "settings" => ["SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION" => "1",
              "SHOPPINGFEED_REAL_TIME_MODE" => "background", "SHOPPINGFEED_CANCELLED_ORDERS" => "[6]"],
              "order" => ["id_internal_shoppingfeed" => 8601, "id_order_state" => 6]]);
            $a->saveOrder();
            usleep(200000);');
        $t0 = microtime(true);
        [$code, , $err] = TestEnv::run(array_merge(TestEnv::phpCommand(['shoppingfeed_sync.timeout_ms' => '30000']), [$script]));
        $took = microtime(true) - $t0;
        $this->assertSame(0, $code, $err);
        $this->assertLessThan(5, $took, 'the exit waited at most its grace, not the request');
        $row = $this->rowOf(601);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state'], 'left for the cron');
        $this->assertSame(0, self::claimed(), 'its claim released at the exit, not kept for the lease');
        Sandbox::config(['hang' => false]);
        $this->sendAll();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(601)['state']);
    }
}

/** A field class whose sendBatch is written in PHP: real time stays inline for it. */
class BackgroundTestOwnSendActions extends ShoppingfeedOrderSyncStatusActions
{
    public static $calls = 0;

    public function sendBatch(): bool
    {
        self::$calls++;

        return parent::sendBatch();
    }
}
