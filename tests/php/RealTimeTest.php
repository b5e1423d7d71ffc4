<?php

/**
 * Real-time mode: saveOrder queues, then runs the send chain for that row at
 * once; the merchant's request never fails because Shopping Feed is slow,
 * down or refuses the token; at most one HTTP attempt bounded by timeout_ms.
 */
final class RealTimeTest extends SyncTestCase
{
    private function realTime(array $more = []): array
    {
        return ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1'] + $more;
    }

    public function testWithTheApiUpTheUpdateIsSentWithinSaveOrder(): void
    {
        $conveyor = $this->save(10, $this->snapshot(1010, self::CANCELLED, ['reason' => 'No stock']), [], $this->realTime());

        $row = $this->rowOf(10);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state'], 'sent before saveOrder returned');
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS, $row['action']);
        $this->assertSame('cancel', $row['operation']);
        $this->assertNotEmpty($row['batch_id']);
        $posts = Sandbox::orderPosts(202);
        $this->assertCount(1, $posts);
        $this->assertEquals([['id' => 1010, 'reason' => 'No stock']], $posts[0]['elements']);
        $this->assertSame($row['id_shoppingfeed_order'], $conveyor['id_shoppingfeed_order']);
        $this->assertContains($row['id_shoppingfeed_order'], $conveyor['sent'] ?? [], 'the conveyor reports the row as sent');

        // The cron's check chain then settles it.
        $this->checkAll();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(10)['state']);
    }

    public function testRealTimeThroughActionsHandlerAsTheHookDoes(): void
    {
        Configuration::updateValue('SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION', '1');
        Configuration::updateValue('SHOPPINGFEED_DELIVERED_ORDERS', '[5]');
        $handler = new ActionsHandler();
        $handler->setConveyor([
            'id_order' => '11',
            'id_shop' => '1',
            'order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS,
            'order' => $this->snapshot(1111, self::DELIVERED),
            'token' => self::TOKEN,
            'shoppingfeed_store_id' => self::STORE_ID,
        ]);
        $handler->addActions('saveOrder');
        $this->assertTrue($handler->process('ShoppingfeedOrderSyncStatus'));
        $this->assertSame(['ShoppingfeedOrderSyncStatusActions'], ActionsHandler::$instantiated, 'classlib resolved the extension\'s class');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(11)['state']);
        $this->assertSame($this->rowOf(11)['id_shoppingfeed_order'], $handler->getConveyor()['id_shoppingfeed_order']);
        $this->assertSame('deliver', Sandbox::orderPosts(202)[0]['operation']);
    }

    public function testRealTimeClaimsOnlyTheSavedOrdersRow(): void
    {
        $this->save(20, $this->snapshot(2020, self::CANCELLED)); // batch mode: queued
        $this->save(21, $this->snapshot(2121, self::CANCELLED), [], $this->realTime());
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(20)['state'], 'the other order waits for the cron');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(21)['state']);
        $this->assertSame(['2121'], self::elementKeys(Sandbox::orderPosts()));
    }

    public function testShippedUpdatesStillWaitForTheTimeShift(): void
    {
        $this->save(22, $this->snapshot(2222, self::SHIPPED), [], $this->realTime(['SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => '5']));
        $this->assertSame([], Sandbox::apiRequests(), 'not due yet: no call');
        $row = $this->rowOf(22);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(0, $row['attempts']);
    }

    public function testWithoutTokenItOnlyQueues(): void
    {
        $this->save(30, $this->snapshot(3030, self::CANCELLED), ['token' => null, 'shoppingfeed_store_id' => null], $this->realTime());
        $this->assertSame([], Sandbox::apiRequests());
        $row = $this->rowOf(30);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(0, $row['attempts'], 'not a failed try');
        $this->assertLessThanOrEqual(time() + 1, $this->utc($row['update_at']), 'still due at once for the cron');
    }

    public function testApiDownSaveOrderStillReturnsTrueAndTheRowWaits(): void
    {
        ini_set('shoppingfeed_sync.api_url', 'http://127.0.0.1:9'); // nothing listens there
        $started = microtime(true);
        $this->save(40, $this->snapshot(4040, self::CANCELLED), [], $this->realTime(['SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '60']));
        $this->assertLessThan(3.5, microtime(true) - $started, 'bounded by timeout_ms (3000)');
        $row = $this->rowOf(40);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $row['action']);
        $this->assertSame(1, $row['attempts'], 'a failed real-time try counts like any other');
        $this->assertSame(0, $row['failures'], 'an outage is not an order failure');
        $wait = $this->utc($row['update_at']) - time();
        $this->assertGreaterThanOrEqual(40, $wait, 'the retry delay (60 s +-20 %) applies');
        $this->assertLessThanOrEqual(80, $wait);
    }

    public function testApiHangingSaveOrderReturnsWithinTheTimeout(): void
    {
        ini_set('shoppingfeed_sync.timeout_ms', '400');
        Sandbox::config(['hang' => true]);
        $started = microtime(true);
        $this->save(50, $this->snapshot(5050, self::CANCELLED), [], $this->realTime());
        $elapsed = microtime(true) - $started;
        Sandbox::config(['hang' => false]);
        $this->assertLessThan(1.5, $elapsed, 'one attempt, bounded by timeout_ms = 400');
        $row = $this->rowOf(50);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(1, $row['attempts']);
        $this->assertLessThanOrEqual(1, Sandbox::stats()['order_requests'], 'at most one HTTP attempt inside saveOrder');
    }

    public function testServerErrorsInRealTimeMakeOneAttemptOnly(): void
    {
        Sandbox::faults([['kind' => 'status', 'status' => 503, 'count' => 10, 'on' => 'order']]);
        $this->save(60, $this->snapshot(6060, self::CANCELLED), [], $this->realTime());
        $this->assertSame(1, Sandbox::stats()['order_requests'], 'no retry inside the merchant\'s request');
        $row = $this->rowOf(60);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(1, $row['attempts']);
        $this->assertSame(0, $row['failures']);
    }

    public function testRejectedTokenInRealTimeLeavesTheUpdateQueued(): void
    {
        $conveyor = $this->save(70, $this->snapshot(7070, self::CANCELLED), ['token' => 'not-the-token-' . bin2hex(random_bytes(4))], $this->realTime());
        $this->assertArrayHasKey('id_shoppingfeed_order', $conveyor);
        $row = $this->rowOf(70);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state'], 'queued for the cron');
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $row['action']);

        // The cron with the right token sends it (the claim was released).
        $this->sendAll([], ['SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0']);
        $accepted = Sandbox::orderPosts(202);
        $this->assertCount(1, $accepted);
        $this->assertSame(['7070'], self::elementKeys($accepted));
    }

    public function testAFailedRealTimeTryIsRetriedByTheCron(): void
    {
        Sandbox::faults([['kind' => 'status', 'status' => 500, 'count' => 1, 'on' => 'order']]);
        $this->save(80, $this->snapshot(8080, self::CANCELLED), [], $this->realTime(['SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0']));
        $this->assertSame(1, $this->rowOf(80)['attempts']);
        $this->sendAll();
        $this->checkAll();
        $row = $this->rowOf(80);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $row['state']);
        $this->assertSame(['8080'], self::elementKeys(Sandbox::orderPosts(202)), 'sent once successfully');
    }
}
