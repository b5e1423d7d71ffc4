<?php

/**
 * PHP classes extending the extension's classes: a new synchronizable field
 * (ShoppingfeedOrderSyncCarrierActions with SYNC_CARRIER and its own
 * prepareBatch / sendBatch), and a merchant's override of the status
 * Actions. The base class must call the PHP methods, in real-time mode too.
 */
final class SubclassTest extends SyncTestCase
{
    const CARRIER = 'ShoppingfeedOrderSyncCarrierActions';

    protected function setUp(): void
    {
        parent::setUp();
        ShoppingfeedOrderSyncCarrierActions::reset();
    }

    private function carrierConveyor(array $extra = [], array $settings = []): array
    {
        return $this->conveyor(['order_action' => ShoppingfeedOrderSyncCarrierActions::ACTION_SYNC_CARRIER] + $extra, $settings);
    }

    private function saveCarrier(int $idOrder, array $snapshot, array $settings = []): array
    {
        $handler = new ActionsHandler();
        $handler->setConveyor($this->carrierConveyor(['id_order' => $idOrder, 'order' => $snapshot], $settings));
        $handler->addActions('saveOrder');
        $this->assertTrue($handler->process(self::CARRIER), "saveOrder of order $idOrder");

        return $handler->getConveyor();
    }

    private function runCarrierChain(array $settings = []): array
    {
        $handler = new ActionsHandler();
        $handler->setConveyor($this->carrierConveyor([], $settings));
        $handler->addActions('getBatch', 'prepareBatch', 'sendBatch');
        $ok = $handler->process(self::CARRIER);

        return ['ok' => $ok, 'conveyor' => $handler->getConveyor()];
    }

    public function testTheSubclassIsAShoppingfeedOrderSyncActions(): void
    {
        $actions = new ShoppingfeedOrderSyncCarrierActions();
        $this->assertSame(ShoppingfeedOrderSyncCarrierActions::class, get_class($actions), 'new of a PHP subclass gives an object of that subclass');
        $this->assertInstanceOf(ShoppingfeedOrderSyncActions::class, $actions);
        $this->assertSame($actions, $actions->setConveyor(['a' => 1]), 'setConveyor returns $this');
        $this->assertSame($actions, $actions->setModelObject(null), 'setModelObject returns $this');
        $this->assertSame(['a' => 1], $actions->getConveyor());
    }

    public function testBatchModeThroughActionsHandler(): void
    {
        // A snapshot with only an identifier: no id_order_state needed for another action.
        $conveyor = $this->saveCarrier(1, ['id_internal_shoppingfeed' => 111, 'carrier' => 'UPS']);
        $this->saveCarrier(2, ['reference' => 'R-2', 'marketplace' => 'amazon', 'carrier' => 'DHL']);
        $row = $this->rowOf(1);
        $this->assertSame('SYNC_CARRIER', $row['action']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame($row['id_shoppingfeed_order'], $conveyor['id_shoppingfeed_order']);
        $this->assertSame([], ShoppingfeedOrderSyncCarrierActions::$calls, 'batch mode: saveOrder only queues');

        $run = $this->runCarrierChain();
        $this->assertTrue($run['ok']);
        $ids = [$this->rowOf(1)['id_shoppingfeed_order'], $this->rowOf(2)['id_shoppingfeed_order']];
        sort($ids);
        $this->assertSame([['prepareBatch', $ids], ['sendBatch', $ids]], array_map(static function ($call) {
            sort($call[1]);

            return $call;
        }, ShoppingfeedOrderSyncCarrierActions::$calls), 'the PHP methods ran on the claimed rows');
        $this->assertEqualsCanonicalizing(['UPS', 'DHL'], array_values($run['conveyor']['carrier_updates']), 'prepareBatch saw the payloads');
        $this->assertSame(2, $run['conveyor']['carrier_settled'], 'settle() returned how many rows changed');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(1)['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(2)['state']);
        $this->assertSame([], Sandbox::apiRequests(), 'the subclass called no API, nor did the base class');
        $this->assertFalse($this->runCarrierChain()['ok'], 'nothing left');
    }

    public function testRealTimeModeCallsThePhpMethodsFromSaveOrder(): void
    {
        $this->saveCarrier(3, ['id_internal_shoppingfeed' => 333, 'carrier' => 'GLS'], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => true]);
        $id = $this->rowOf(3)['id_shoppingfeed_order'];
        $this->assertSame([['prepareBatch', [$id]], ['sendBatch', [$id]]], ShoppingfeedOrderSyncCarrierActions::$calls, 'saveOrder forwarded to $this->getBatch/prepareBatch/sendBatch');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(3)['state']);
    }

    public function testRealTimeClaimsOnlyTheSavedRowOfTheSubclass(): void
    {
        $this->saveCarrier(4, ['id_internal_shoppingfeed' => 444]);
        $this->saveCarrier(5, ['id_internal_shoppingfeed' => 555], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(4)['state']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $this->rowOf(5)['state']);
    }

    public function testSettleRetryAndFailureFromASubclass(): void
    {
        $this->saveCarrier(6, ['id_internal_shoppingfeed' => 666, 'test_outcome' => 'retry']);
        $this->saveCarrier(7, ['id_internal_shoppingfeed' => 777, 'test_outcome' => 'fail']);
        $run = $this->runCarrierChain(['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 2]);
        $this->assertSame(2, $run['conveyor']['carrier_settled']);

        $retry = $this->rowOf(6);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $retry['state']);
        $this->assertSame(1, $retry['attempts'], 'a retry: attempts + 1');
        $this->assertSame(1, $retry['failures'], 'an order failure: failures + 1');
        $this->assertSame('carrier refused', $retry['last_error']);
        $failed = $this->rowOf(7);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $failed['state']);
        $this->assertSame('carrier unknown', $failed['last_error']);

        // The second order failure reaches MAX_ATTEMPTS = 2.
        $run = $this->runCarrierChain(['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 2]);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $this->rowOf(6)['state']);
        $this->assertSame(2, $this->rowOf(6)['failures']);
        $this->assertContains($retry['id_shoppingfeed_order'], self::ids($run['conveyor']['failed'] ?? []), 'listed in failed');
    }

    public function testSettleOnlyTouchesRowsOfItsOwnClaim(): void
    {
        $this->saveCarrier(8, ['id_internal_shoppingfeed' => 888, 'test_outcome' => 'leave']);
        $this->saveCarrier(9, ['id_internal_shoppingfeed' => 999, 'test_outcome' => 'leave']);
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => 1];
        $a = $this->actions($this->carrierConveyor([], $settings), self::CARRIER);
        $b = $this->actions($this->carrierConveyor([], $settings), self::CARRIER);
        $this->assertTrue($a->getBatch());
        $this->assertTrue($b->getBatch());
        $idA = self::ids($a->getConveyor()['batch']);
        $idB = self::ids($b->getConveyor()['batch']);
        $this->assertSame(0, $a->settle($idB, ShoppingfeedOrderSyncQueue::STATE_DONE), "a cannot settle b's row");
        $this->assertSame(0, $a->settle([987654321], ShoppingfeedOrderSyncQueue::STATE_DONE), 'nor an unknown row');
        $this->assertSame(0, $a->settle([], ShoppingfeedOrderSyncQueue::STATE_DONE));
        $this->assertSame(1, $a->settle($idA, ShoppingfeedOrderSyncQueue::STATE_DONE));
        $this->assertSame(0, $a->settle($idA, ShoppingfeedOrderSyncQueue::STATE_DONE), 'settled rows are no longer claimed');
        $this->assertEquals(['pending' => 1, 'done' => 1], array_intersect_key(ShoppingfeedOrderSyncQueue::counts(1), ['pending' => 0, 'done' => 0]));
    }

    public function testRowsLeftUnsettledComeBackAfterTheLease(): void
    {
        $settings = ['SHOPPINGFEED_ORDER_STATUS_LEASE_TIME' => 1];
        $this->saveCarrier(10, ['id_internal_shoppingfeed' => 1010, 'test_outcome' => 'leave']);
        $run = $this->runCarrierChain($settings);
        $this->assertTrue($run['ok']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(10)['state'], 'left unsettled');
        $this->assertFalse($this->runCarrierChain($settings)['ok'], 'still leased');
        sleep(2);
        $again = $this->runCarrierChain($settings);
        $this->assertTrue($again['ok'], 'the lease ended: claimed again');
        $this->assertSame([$this->rowOf(10)['id_shoppingfeed_order']], self::ids($again['conveyor']['batch']));
        $this->assertSame(0, $this->rowOf(10)['failures'], 'a lapsed lease is not an order failure');
    }

    public function testForwardCallsAnotherActionOfTheSameObject(): void
    {
        $this->saveCarrier(11, ['id_internal_shoppingfeed' => 1111]);
        $actions = $this->actions($this->carrierConveyor(), self::CARRIER);
        $this->assertTrue($actions->forward('getBatch'));
        $this->assertCount(1, $actions->getConveyor()['batch']);
        $this->assertTrue($actions->forward('prepareBatch'), 'forward reaches PHP methods');
        $this->assertSame('prepareBatch', ShoppingfeedOrderSyncCarrierActions::$calls[0][0]);
    }

    public function testStatusAndCarrierRowsOfOneOrderAreSeparate(): void
    {
        $this->save(12, $this->snapshot(1212, self::CANCELLED));
        $this->saveCarrier(12, ['id_internal_shoppingfeed' => 1212, 'carrier' => 'UPS']);
        $rows = ShoppingfeedOrderSyncQueue::find(12);
        $this->assertCount(2, $rows, 'one row per (order, action)');
        $this->assertEqualsCanonicalizing(['SYNC_STATUS', 'SYNC_CARRIER'], array_column($rows, 'action'));
        $this->runCarrierChain();
        $this->assertSame([], Sandbox::apiRequests());
        $states = array_column(ShoppingfeedOrderSyncQueue::find(12), 'state', 'action');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $states['SYNC_CARRIER']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $states['SYNC_STATUS'], 'the carrier chain does not touch status rows');
    }

    public function testMerchantOverrideOfTheStatusActionsIsHonouredInRealTime(): void
    {
        $override = $this->dir . '/override/';
        mkdir($override . 'classes/actions', 0700, true);
        $class = 'ShoppingfeedOrderSyncStatusActionsOverride';
        if (!class_exists($class, false)) {
            file_put_contents($override . 'classes/actions/ShoppingfeedOrderSyncStatusActions.php', <<<'PHP'
<?php
class ShoppingfeedOrderSyncStatusActionsOverride extends ShoppingfeedOrderSyncStatusActions
{
    public static $calls = [];

    public function prepareBatch(): bool
    {
        self::$calls[] = 'prepareBatch';

        return parent::prepareBatch();
    }

    public function sendBatch(): bool
    {
        self::$calls[] = 'sendBatch';

        return parent::sendBatch();
    }
}
PHP
            );
        }
        ActionsHandler::$overrideDir = $override;
        $handler = new ActionsHandler();
        $handler->setConveyor($this->conveyor(['id_order' => 13, 'order' => $this->snapshot(1313, self::SHIPPED)], ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1']));
        $handler->addActions('saveOrder');
        $this->assertTrue($handler->process('ShoppingfeedOrderSyncStatus'));
        $this->assertSame([$class], ActionsHandler::$instantiated, 'classlib used the override');
        $this->assertSame(['prepareBatch', 'sendBatch'], $class::$calls, 'saveOrder called the override\'s methods');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(13)['state']);
        $posts = Sandbox::orderPosts(202);
        $this->assertCount(1, $posts);
        $this->assertSame(1313, $posts[0]['elements'][0]['id']);
    }
}
