<?php

/**
 * Tickets: sent rows are due for the check chain at once; succeed/canceled
 * settle as done; failed retries then gives up (STATE_FAILED, listed once);
 * an unknown batch (404) retries; scheduled/running are left alone.
 */
final class TicketsTest extends SyncTestCase
{
    public function testSucceededTicketSettlesTheRowAsDone(): void
    {
        $this->save(1, $this->snapshot(101, self::SHIPPED));
        $this->save(2, $this->legacySnapshot('REF-2', 'amazon', self::DELIVERED));
        $this->sendAll();
        $sent = [$this->rowOf(1), $this->rowOf(2)];

        $run = $this->check();
        $this->assertTrue($run['ok']);
        $this->assertEqualsCanonicalizing(self::ids($sent), self::ids($run['conveyor']['batch']), 'sent rows are due for the check at once');
        $this->assertEqualsCanonicalizing(self::ids($sent), $run['conveyor']['succeeded'] ?? []);
        foreach ([1 => 'ship', 2 => 'deliver'] as $idOrder => $operation) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $row['state']);
            $this->assertSame($operation, $row['operation'], 'a done row keeps its operation');
            $this->assertNotEmpty($row['batch_id'], 'and its batch id');
            $this->assertSame($sent[$idOrder - 1]['id_shoppingfeed_order'], $row['id_shoppingfeed_order'], 'a row keeps its id');
        }
        $this->assertEquals(['pending' => 0, 'sent' => 0, 'done' => 2, 'failed' => 0], ShoppingfeedOrderSyncQueue::counts(1));
        $tickets = array_filter(Sandbox::apiRequests(), static function ($r) {
            return strpos($r['path'], '/v1/store/42/ticket') === 0;
        });
        $this->assertNotEmpty($tickets, 'the tickets were read from the API');
        foreach ($tickets as $request) {
            $this->assertStringContainsString('batchId=', $request['path'], 'tickets are read by batch id');
        }
        $this->assertFalse($this->check()['ok'], 'nothing left to check');
    }

    public function testFailedTicketIsRetriedThenFailsAfterMaxAttemptsAndIsListedOnce(): void
    {
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '2'];
        Sandbox::config(['fail_orders' => ['303' => 'Transition refused by the marketplace']]);
        $this->save(3, $this->snapshot(303, self::SHIPPED));
        $this->save(4, $this->snapshot(404, self::SHIPPED));
        $id = $this->rowOf(3)['id_shoppingfeed_order'];

        // Round 1: failed ticket -> back to pending, an order-specific failure.
        $this->sendAll([], $settings);
        $run = $this->check([], $settings);
        $this->assertContains($id, $run['conveyor']['pending'] ?? [], 'the row is reported as pending again');
        $this->assertEmpty($run['conveyor']['failed'] ?? [], 'not failed yet');
        $row = $this->rowOf(3);
        $this->assertSame($id, $row['id_shoppingfeed_order']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $row['action'], 'back to the send stage');
        $this->assertSame(1, $row['attempts']);
        $this->assertSame(1, $row['failures']);
        $this->assertStringContainsString('Transition refused by the marketplace', (string) $row['last_error'], 'the API\'s message is kept');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(4)['state'], 'the other order of the batch succeeded');

        // Round 2: the limit (2) is reached -> STATE_FAILED, listed once.
        $this->sendAll([], $settings);
        $run = $this->check([], $settings);
        $failed = $run['conveyor']['failed'] ?? [];
        $this->assertCount(1, $failed, 'listed once in failed');
        $this->assertIsArray($failed[0], 'failed lists rows, as find() returns them');
        $this->assertSame($id, $failed[0]['id_shoppingfeed_order']);
        $this->assertSame(3, $failed[0]['id_order']);
        $row = $this->rowOf(3);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $row['state']);
        $this->assertSame(2, $row['failures']);
        $this->assertSame(2, $row['attempts']);

        // Round 3: a failed row is not sent, checked or listed again.
        $this->assertFalse($this->send([], $settings)['ok']);
        $this->assertFalse($this->check([], $settings)['ok']);
        $this->assertSame(2, count(array_filter(self::elementKeys(Sandbox::orderPosts(202)), static function ($k) {
            return $k === '303';
        })), 'sent exactly twice');
        $this->assertEquals(['pending' => 0, 'sent' => 0, 'done' => 1, 'failed' => 1], ShoppingfeedOrderSyncQueue::counts(1));
    }

    public function testEmptyTrackingNumberEndsInAFailedTicketForALegacyOrder(): void
    {
        $this->save(5, $this->legacySnapshot('NO-TRACK-5', 'cdiscount', self::SHIPPED, ['tracking_number' => '', 'tracking_url' => '']));
        $this->sendAll([], ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 1]);
        $run = $this->check([], ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 1]);
        $this->assertCount(1, $run['conveyor']['failed'] ?? []);
        $row = $this->rowOf(5);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $row['state'], 'MAX_ATTEMPTS = 1: failed at the first failure');
        $this->assertNotEmpty($row['last_error']);
        $tickets = Sandbox::orderTickets('NO-TRACK-5');
        $this->assertSame('failed', $tickets[0]['state'] ?? null);
    }

    public function testUnknownBatchPutsTheRowBackToPendingWithoutAnOrderFailure(): void
    {
        $this->save(6, $this->snapshot(606, self::CANCELLED));
        $this->sendAll();
        $batchId = $this->rowOf(6)['batch_id'];
        Sandbox::config(['unknown_batches' => [$batchId]]);

        $run = $this->check();
        $this->assertContains($this->rowOf(6)['id_shoppingfeed_order'], $run['conveyor']['pending'] ?? []);
        $row = $this->rowOf(6);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $row['action']);
        $this->assertSame(1, $row['attempts']);
        $this->assertSame(0, $row['failures'], 'a 404 ticket is not the order\'s fault');

        Sandbox::config(['unknown_batches' => []]);
        $this->sendAll();
        $this->checkAll();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(6)['state'], 'sent again, then done (ignored or succeeded)');
    }

    public function testForgottenBatchesAreRetriedAsWell(): void
    {
        $this->save(7, $this->snapshot(707, self::CANCELLED));
        $this->save(8, $this->snapshot(808, self::REFUNDED));
        $this->sendAll();
        Sandbox::config(['forget_batches' => true]);
        $this->check();
        foreach ([7, 8] as $idOrder) {
            $row = $this->rowOf($idOrder);
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
            $this->assertSame(1, $row['attempts']);
            $this->assertSame(0, $row['failures']);
        }
    }

    public function testScheduledAndRunningTicketsAreLeftAloneAndReleased(): void
    {
        Sandbox::config(['ticket_delay_ms' => 60000]);
        $this->save(9, $this->snapshot(909, self::SHIPPED));
        $this->sendAll();
        $before = $this->rowOf(9);

        $run = $this->check();
        $this->assertTrue($run['ok'] || $run['stopped'] === 'checkTickets');
        $this->assertEmpty($run['conveyor']['succeeded'] ?? [], 'not final: not done');
        $this->assertEmpty($run['conveyor']['pending'] ?? [], 'not final: not retried');
        $row = $this->rowOf(9);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS, $row['action']);
        $this->assertSame(0, $row['attempts'], 'waiting for a ticket is not a failed try');
        $this->assertSame($before['batch_id'], $row['batch_id']);

        $again = $this->check();
        $this->assertNotSame('getBatch', $again['stopped'], 'released at once: the next run reads it again');
        $this->assertSame([$row['id_shoppingfeed_order']], self::ids($again['conveyor']['batch']));
    }

    public function testTicketsThatBecomeFinalLaterAreSettledByALaterRun(): void
    {
        Sandbox::config(['ticket_delay_ms' => 700]);
        $this->save(10, $this->snapshot(1010, self::DELIVERED));
        $this->sendAll();
        $this->check();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(10)['state']);
        usleep(1500000);
        $this->check();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(10)['state']);
    }

    public function testOneFailingOrderInABatchOnlyAffectsThatOrder(): void
    {
        Sandbox::config(['fail_orders' => ['1103' => 'Unsupported carrier']]);
        for ($i = 1; $i <= 5; $i++) {
            $this->save(1100 + $i, $this->snapshot(1100 + $i, self::SHIPPED));
        }
        $this->sendAll();
        $this->assertCount(1, Sandbox::orderPosts(202), 'one batch');
        $this->check();
        foreach ([1101, 1102, 1104, 1105] as $idOrder) {
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf($idOrder)['state']);
        }
        $row = $this->rowOf(1103);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(1, $row['failures']);
        $this->assertStringContainsString('Unsupported carrier', (string) $row['last_error']);
    }

    public function testRetryFailedPutsFailedRowsBackToPending(): void
    {
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '1'];
        Sandbox::config(['fail_orders' => ['1201' => 'Bad tracking', '1202' => 'Bad tracking']]);
        $this->save(1201, $this->snapshot(1201, self::SHIPPED), [], $settings);
        $this->save(1202, $this->snapshot(1202, self::SHIPPED), [], $settings);
        $this->save(1203, $this->snapshot(1203, self::SHIPPED), ['id_shop' => 2], $settings);
        $this->sendAll([], $settings);
        $this->check([], $settings);
        $this->assertSame(2, ShoppingfeedOrderSyncQueue::counts(1)['failed']);

        $this->assertSame(0, ShoppingfeedOrderSyncQueue::retryFailed(2), 'shop 2 has no failed row');
        $this->assertSame(0, ShoppingfeedOrderSyncQueue::retryFailed(1, [999]), 'not one of the failed orders');
        $this->assertSame(1, ShoppingfeedOrderSyncQueue::retryFailed(1, [1201]), 'only the listed order');
        $row = $this->rowOf(1201);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(0, $row['attempts'], 'attempts back to 0');
        $this->assertSame(0, $row['failures'], 'failures back to 0');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $this->rowOf(1202)['state']);
        $this->assertSame(1, ShoppingfeedOrderSyncQueue::retryFailed(1), 'all the remaining failed rows of the shop');

        Sandbox::config(['fail_orders' => []]);
        $this->sendAll([], $settings);
        $this->checkAll([], $settings);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(1201)['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(1202)['state']);
    }

    public function testRetryDelayGrowsWithAttempts(): void
    {
        $settings = ['SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '100'];
        Sandbox::config(['fail_orders' => ['1301' => 'Nope']]);
        $this->save(1301, $this->snapshot(1301, self::CANCELLED), [], $settings);
        $this->sendAll([], $settings);
        $this->check([], $settings);
        $row = $this->rowOf(1301);
        $wait = $this->utc($row['update_at']) - time();
        $this->assertGreaterThanOrEqual(75, $wait, 'first retry: 100 s +-20 %');
        $this->assertLessThanOrEqual(125, $wait);
        $this->assertFalse($this->send([], $settings)['ok'], 'not due before the delay');
    }
}
