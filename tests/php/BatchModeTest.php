<?php

/**
 * Batch mode: saveOrder only queues; the cron's send chain claims due rows
 * (oldest first, at most the batch size), maps states to operations and
 * sends one request per operation with at most 100 orders each.
 */
final class BatchModeTest extends SyncTestCase
{
    public function testSaveOrderOnlyQueuesADurableRowWithTheContractsKeys(): void
    {
        $snapshot = $this->snapshot(9001, self::SHIPPED, ['custom_key' => ['kept' => 'as given']]);
        $conveyor = $this->save(12, $snapshot);

        $row = $this->rowOf(12);
        $this->assertSame([], Sandbox::apiRequests(), 'batch mode: saveOrder must not call the API');
        foreach (['id_shoppingfeed_order', 'id_order', 'id_shop', 'action', 'state', 'operation', 'payload', 'batch_id',
            'ticket_id', 'attempts', 'failures', 'last_error', 'update_at', 'date_add', 'date_upd'] as $key) {
            $this->assertArrayHasKey($key, $row, "a row from find() has the key $key");
        }
        $this->assertIsInt($row['id_shoppingfeed_order']);
        $this->assertSame(12, $row['id_order']);
        $this->assertSame(1, $row['id_shop']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $row['action']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertNull($row['operation'], 'no operation before preparation');
        $this->assertSame(0, $row['attempts']);
        $this->assertSame(0, $row['failures']);
        $this->assertEquals($snapshot, $row['payload'], 'the payload is the snapshot, unknown keys kept');
        foreach (['update_at', 'date_add', 'date_upd'] as $date) {
            $this->assertMatchesRegularExpression('/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/', $row[$date]);
            $this->assertLessThan(120, abs($this->utc($row[$date]) - time()), "$date is UTC and about now");
        }
        $this->assertSame($row['id_shoppingfeed_order'], $conveyor['id_shoppingfeed_order'] ?? null, 'saveOrder puts the row id in the conveyor');
        $this->assertQueueCreated('the first saveOrder');
        $this->assertEquals(['pending' => 1, 'sent' => 0, 'done' => 0, 'failed' => 0], $this->sortedCounts(1));
    }

    public function testIdsGivenAsDecimalStringsAreAccepted(): void
    {
        $actions = $this->actions($this->conveyor(['id_order' => '77', 'id_shop' => '1', 'order' => $this->snapshot(77, self::CANCELLED)]));
        $this->assertTrue($actions->saveOrder());
        $row = $this->rowOf(77);
        $this->assertSame(77, $row['id_order']);
        $this->assertSame(1, $row['id_shop']);
    }

    public function testCountsReturnsTheFourStatesWithZeros(): void
    {
        $this->assertEquals(['pending' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0], $this->sortedCounts(99));
    }

    public function testGetBatchReturnsFalseWhenNothingIsDue(): void
    {
        $run = $this->send();
        $this->assertFalse($run['ok']);
        $this->assertSame('getBatch', $run['stopped']);
        $this->assertEmpty($run['conveyor']['batch'] ?? [], 'no rows claimed');
        $this->assertSame([], Sandbox::apiRequests());
    }

    public function testAllFourOperationsGoOnTheWireWithTheirFields(): void
    {
        $refund = ['shipping' => false, 'products' => [['reference' => 'SKU-1', 'quantity' => 2]]];
        $this->save(1, $this->snapshot(101, self::SHIPPED));
        $this->save(2, $this->legacySnapshot('AMZ-202', 'amazon', self::SHIPPED));
        $this->save(3, $this->snapshot(103, self::CANCELLED, ['reason' => 'Out of stock']));
        $this->save(4, $this->legacySnapshot('CD-204', 'cdiscount', self::CANCELLED));
        $this->save(5, $this->snapshot(105, self::REFUNDED, ['refund' => $refund]));
        $this->save(6, $this->snapshot(106, self::REFUNDED));
        $this->save(7, $this->snapshot(107, self::DELIVERED));
        $this->save(8, $this->legacySnapshot('FN-208', 'fnac', self::DELIVERED));

        $run = $this->send();
        $this->assertTrue($run['ok'], 'the send chain runs to its end');
        $this->assertCount(8, $run['conveyor']['batch']);
        $operations = $run['conveyor']['operations'] ?? [];
        $this->assertEqualsCanonicalizing(['ship', 'cancel', 'refund', 'deliver'], array_keys($operations), 'prepareBatch groups rows by operation');
        $this->assertCount(2, $operations['ship']);

        $posts = Sandbox::orderPosts();
        $this->assertCount(4, $posts, 'one request per operation');
        $byOperation = [];
        foreach ($posts as $post) {
            $this->assertSame(202, $post['status']);
            $this->assertTrue($post['auth_ok'], 'the token is sent as a Bearer token');
            $this->assertSame('/v1/store/42/order/' . $post['operation'], $post['path']);
            $byOperation[$post['operation']] = self::byKey($post['elements']);
        }
        $this->assertEquals([
            '101' => ['id' => 101, 'carrier' => 'Colissimo', 'trackingNumber' => 'TRK101', 'trackingLink' => 'https://track.example/?n=TRK101'],
            'AMZ-202' => ['reference' => 'AMZ-202', 'channelName' => 'amazon', 'carrier' => 'DHL', 'trackingNumber' => 'L-AMZ-202', 'trackingLink' => 'https://dhl.example/L-AMZ-202'],
        ], $byOperation['ship']);
        $this->assertEquals([
            '103' => ['id' => 103, 'reason' => 'Out of stock'],
            'CD-204' => ['reference' => 'CD-204', 'channelName' => 'cdiscount', 'reason' => ''],
        ], $byOperation['cancel']);
        $this->assertEquals([
            '105' => ['id' => 105, 'refund' => $refund],
            '106' => ['id' => 106, 'refund' => ['shipping' => true, 'products' => []]],
        ], $byOperation['refund']);
        $this->assertEquals([
            '107' => ['id' => 107],
            'FN-208' => ['reference' => 'FN-208', 'channelName' => 'fnac'],
        ], $byOperation['deliver']);

        $expectedOperation = [1 => 'ship', 2 => 'ship', 3 => 'cancel', 4 => 'cancel', 5 => 'refund', 6 => 'refund', 7 => 'deliver', 8 => 'deliver'];
        $sentIds = [];
        foreach ($expectedOperation as $idOrder => $operation) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS, $row['action'], "order $idOrder moved to the ticket stage");
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state']);
            $this->assertSame($operation, $row['operation']);
            $this->assertNotEmpty($row['batch_id'], 'the batch id is recorded');
            $sentIds[] = $row['id_shoppingfeed_order'];
        }
        $this->assertEqualsCanonicalizing($sentIds, $run['conveyor']['sent'] ?? [], 'the conveyor lists the sent row ids');
        $batchIds = array_unique(array_map(function ($id) {
            return $this->rowOf($id)['batch_id'];
        }, array_keys($expectedOperation)));
        $this->assertCount(4, $batchIds, 'each operation request has its own batch id, all kept');
    }

    public function testAtMostOneHundredOrdersPerRequest(): void
    {
        for ($i = 1; $i <= 250; $i++) {
            $this->save($i, $this->snapshot(1000 + $i, self::SHIPPED));
        }
        $run = $this->send([], ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => 250]);
        $this->assertTrue($run['ok']);
        $this->assertCount(250, $run['conveyor']['batch'], 'one getBatch claims the batch size');

        $posts = Sandbox::orderPosts(202);
        $sizes = array_map(static function ($post) {
            return count($post['elements']);
        }, $posts);
        $this->assertCount(3, $posts, '250 orders of one operation: 3 requests');
        foreach ($sizes as $size) {
            $this->assertLessThanOrEqual(100, $size);
        }
        $this->assertSame(250, array_sum($sizes));
        $keys = self::elementKeys($posts);
        $this->assertSame(250, count(array_unique($keys)), 'every order exactly once');
        $this->assertSame(250, ShoppingfeedOrderSyncQueue::counts(1)['sent']);
    }

    public function testBatchSizeFromConfigurationIsRespectedOldestFirst(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS', '10');
        $settings = $this->settings();
        unset($settings['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS']);
        for ($i = 1; $i <= 25; $i++) {
            $this->save($i, $this->snapshot(2000 + $i, self::CANCELLED));
        }
        $claimed = [];
        foreach ($this->sendAll() as $n => $run) {
            $batch = $run['conveyor']['batch'];
            $this->assertLessThanOrEqual(10, count($batch), 'SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS = "10" read from Configuration');
            $claimed[$n] = array_column($batch, 'id_order');
        }
        $this->assertCount(3, $claimed, '25 rows, 10 per getBatch: 3 runs');
        $this->assertEqualsCanonicalizing(range(1, 10), $claimed[0], 'the oldest rows first');
        $this->assertEqualsCanonicalizing(range(11, 20), $claimed[1]);
        $this->assertEqualsCanonicalizing(range(21, 25), $claimed[2]);
        $this->assertCount(3, Sandbox::orderPosts(202));
        $this->assertSame(25, ShoppingfeedOrderSyncQueue::counts(1)['sent']);
    }

    public function testSettingsAreReadPerShopFromConfiguration(): void
    {
        Configuration::updateValue('SHOPPINGFEED_CANCELLED_ORDERS', '[6]');
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS', '100');
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS', '3', false, null, 2);
        for ($i = 1; $i <= 5; $i++) {
            $actions = $this->actions(['id_order' => $i, 'id_shop' => 2, 'order_action' => 'SYNC_STATUS', 'order' => $this->snapshot(3000 + $i, self::CANCELLED)]);
            $this->assertTrue($actions->saveOrder());
        }
        $run = $this->chain(['getBatch', 'prepareBatch', 'sendBatch'], ['id_shop' => 2, 'order_action' => 'SYNC_STATUS', 'token' => self::TOKEN, 'shoppingfeed_store_id' => self::STORE_ID]);
        $this->assertTrue($run['ok']);
        $this->assertCount(3, $run['conveyor']['batch'], "shop 2's own batch size (3) is used");
        $reads = Configuration::readsOf('SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS');
        $this->assertNotEmpty($reads, 'the batch size is read through Configuration::get');
        $this->assertSame(2, (int) $reads[0]['id_shop'], 'Configuration::get($name, null, null, $idShop) with the conveyor\'s shop');
        $this->assertSame(['cancel'], array_keys($run['conveyor']['operations']), 'the state lists are read from Configuration too');
    }

    public function testConveyorSettingsOverrideConfiguration(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS', '1');
        for ($i = 1; $i <= 4; $i++) {
            $this->save($i, $this->snapshot(3100 + $i, self::CANCELLED));
        }
        $run = $this->send([], ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => 4]);
        $this->assertCount(4, $run['conveyor']['batch'], 'the conveyor\'s settings come before Configuration');
    }

    public function testLatestStateWinsAndKeepsTheRowAndItsDateAdd(): void
    {
        $this->save(40, $this->snapshot(4040, self::SHIPPED));
        $first = $this->rowOf(40);
        sleep(1);
        $this->save(40, $this->snapshot(4040, self::CANCELLED, ['reason' => 'Customer changed mind']));
        $second = $this->rowOf(40);

        $this->assertSame($first['id_shoppingfeed_order'], $second['id_shoppingfeed_order'], 'the same row');
        $this->assertSame($first['date_add'], $second['date_add'], 'date_add is kept');
        $this->assertSame(self::CANCELLED, (int) $second['payload']['id_order_state'], 'the latest snapshot replaced the first');
        $this->assertSame('Customer changed mind', $second['payload']['reason']);

        $run = $this->send();
        $this->assertTrue($run['ok']);
        $posts = Sandbox::orderPosts();
        $this->assertCount(1, $posts);
        $this->assertSame('cancel', $posts[0]['operation'], 'only the latest state is sent');
        $this->assertSame('cancel', $this->rowOf(40)['operation']);
    }

    public function testShippedUpdatesWaitForTheTimeShift(): void
    {
        $this->save(50, $this->snapshot(5050, self::SHIPPED), [], ['SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => '5']);
        $this->save(51, $this->snapshot(5051, self::CANCELLED), [], ['SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => '5']);
        $shipped = $this->rowOf(50);
        $delay = $this->utc($shipped['update_at']) - time();
        $this->assertGreaterThanOrEqual(290, $delay, 'a shipped update is due 5 minutes later');
        $this->assertLessThanOrEqual(305, $delay);
        $this->assertLessThanOrEqual(time() + 1, $this->utc($this->rowOf(51)['update_at']), 'a cancel is due at once');

        $run = $this->send();
        $this->assertTrue($run['ok']);
        $this->assertSame([51], array_column($run['conveyor']['batch'], 'id_order'), 'only the due row is claimed');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(50)['state']);
        $this->assertFalse($this->send()['ok'], 'the shipped row is not due yet');
    }

    public function testDefaultTimeShiftIsFiveMinutes(): void
    {
        $settings = $this->settings();
        unset($settings['SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT']);
        $actions = $this->actions($this->conveyor(['id_order' => 52, 'order' => $this->snapshot(5052, self::SHIPPED), 'settings' => $settings]));
        $this->assertTrue($actions->saveOrder());
        $delay = $this->utc($this->rowOf(52)['update_at']) - time();
        $this->assertGreaterThanOrEqual(290, $delay);
        $this->assertLessThanOrEqual(305, $delay);
    }

    public function testStateInNoListIsSettledDoneWithoutAnyCall(): void
    {
        $this->save(60, $this->snapshot(6060, self::UNLISTED));
        $run = $this->send();
        $this->assertNotSame('getBatch', $run['stopped'], 'the row is claimed');
        $this->assertSame([], Sandbox::apiRequests(), 'no API call for a state in no list');
        $row = $this->rowOf(60);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $row['state']);
        $this->assertFalse($this->send()['ok'], 'nothing left to send');
    }

    public function testOrdersTheApiReportsAsIgnoredAreSettledDone(): void
    {
        $this->save(70, $this->snapshot(7070, self::SHIPPED));
        $this->sendAll();
        $this->checkAll();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, ShoppingfeedOrderSyncQueue::find(70)[0]['state']);

        // The same operation again: Shopping Feed answers "ignored".
        $this->save(70, $this->snapshot(7070, self::SHIPPED));
        $rows = ShoppingfeedOrderSyncQueue::find(70);
        $this->assertCount(2, $rows, 'a done row is history: a new update is a new row');
        $this->sendAll();
        $this->assertSame(1, Sandbox::stats()['ignored'], 'the sandbox reported the order as ignored');
        $rows = ShoppingfeedOrderSyncQueue::find(70);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $rows[1]['state'], 'an ignored order is settled as done right after sending');
        $this->assertFalse($this->check()['ok'], 'no ticket to check for it');
    }

    public function testCanceledTicketsAreDone(): void
    {
        Sandbox::config(['cancel_orders' => ['7171' => 'Refused by the API']]);
        $this->save(71, $this->snapshot(7171, self::SHIPPED));
        $this->sendAll();
        $this->checkAll();
        $row = $this->rowOf(71);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $row['state'], 'a canceled ticket settles the row as done, not retried');
        $this->assertSame('ship', $row['operation']);
        $this->assertNotEmpty($row['batch_id'], 'a done row keeps its batch id');
    }

    public function testRowsOfOtherShopsAndActionsAreNotClaimed(): void
    {
        $this->save(80, $this->snapshot(8080, self::CANCELLED), ['id_shop' => 2]);
        $this->save(81, ['id_internal_shoppingfeed' => 8181, 'carrier' => 'UPS'], ['order_action' => 'SYNC_CARRIER']);
        $this->assertFalse($this->send()['ok'], 'shop 1 has no SYNC_STATUS row');
        $this->assertSame(1, ShoppingfeedOrderSyncQueue::counts(2)['pending']);
        $this->assertSame(1, ShoppingfeedOrderSyncQueue::counts(1)['pending'], 'counts() covers every action of the shop');
        $this->assertSame([], Sandbox::apiRequests());
    }

    public function testReportListsAlreadyInTheConveyorAreAppendedTo(): void
    {
        $this->save(90, $this->snapshot(9090, self::CANCELLED));
        $run = $this->chain(['getBatch', 'prepareBatch', 'sendBatch'], $this->conveyor(['sent' => [987654], 'errors' => ['from an earlier step']]));
        $this->assertTrue($run['ok']);
        $this->assertContains(987654, $run['conveyor']['sent'], 'an existing sent list is appended to');
        $this->assertContains($this->rowOf(90)['id_shoppingfeed_order'], $run['conveyor']['sent']);
        $this->assertContains('from an earlier step', $run['conveyor']['errors']);
        $this->assertNotEmpty($run['conveyor']['claim'] ?? null, 'getBatch puts its lease token in the conveyor');
    }

    public function testPurgeDeletesOnlyOldDoneRows(): void
    {
        $this->save(95, $this->snapshot(9595, self::UNLISTED));
        $this->save(96, $this->snapshot(9696, self::CANCELLED));
        $this->send([], ['SHOPPINGFEED_CANCELLED_ORDERS' => '[]']); // both settle as done without a call
        $this->save(97, $this->snapshot(9797, self::CANCELLED));   // stays pending
        $this->assertSame(2, ShoppingfeedOrderSyncQueue::counts(1)['done']);

        $this->assertSame(0, ShoppingfeedOrderSyncQueue::purge(30), 'nothing is 30 days old');
        sleep(1);
        $this->assertSame(2, ShoppingfeedOrderSyncQueue::purge(0), 'done rows older than 0 days');
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(95));
        $this->assertCount(1, ShoppingfeedOrderSyncQueue::find(97), 'pending rows are kept');
        $this->assertEquals(['pending' => 1, 'sent' => 0, 'done' => 0, 'failed' => 0], $this->sortedCounts(1));
    }

    public function testTheDatabaseDirectoryIsCreatedWhenMissing(): void
    {
        $this->onlyOn('sqlite', 'the folder of a SQLite queue file is created (a MySQL queue has no file)');
        $path = $this->dir . '/not/yet/there/queue.sqlite';
        ini_set('shoppingfeed_sync.database', $path);
        $this->save(98, $this->snapshot(9898, self::CANCELLED));
        $this->assertFileExists($path);
        $this->assertCount(1, ShoppingfeedOrderSyncQueue::find(98));
    }

    private function sortedCounts(int $idShop): array
    {
        $counts = ShoppingfeedOrderSyncQueue::counts($idShop);
        $this->assertEqualsCanonicalizing(['pending', 'sent', 'done', 'failed'], array_keys($counts));
        foreach ($counts as $count) {
            $this->assertIsInt($count);
        }

        return ['pending' => $counts['pending'], 'sent' => $counts['sent'], 'done' => $counts['done'], 'failed' => $counts['failed']];
    }

    private static function byKey(array $elements): array
    {
        $out = [];
        foreach ($elements as $element) {
            $out[isset($element['id']) ? (string) $element['id'] : (string) $element['reference']] = $element;
        }
        ksort($out);

        return $out;
    }
}
