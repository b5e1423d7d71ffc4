<?php

/**
 * Two extensions of the contract, through PHP: rows tagged with their
 * Shopping Feed store (conveyor shoppingfeed_store_id on saveOrder and
 * getBatch), and SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT (a ship without
 * tracking number waits for one, no attempt counted).
 */
final class StoreTagsAndTrackingWaitTest extends SyncTestCase
{
    const OTHER_STORE = 7;

    public function testAGetBatchForOneStoreClaimsOnlyItsRowsAndUntaggedOnes(): void
    {
        $this->save(1, $this->snapshot(101, self::CANCELLED));
        $this->save(2, $this->snapshot(102, self::CANCELLED), ['shoppingfeed_store_id' => self::OTHER_STORE]);
        $this->save(3, $this->snapshot(103, self::CANCELLED), ['shoppingfeed_store_id' => null, 'token' => null]);
        $this->assertSame(Sandbox::STORE_ID, $this->rowOf(1)['shoppingfeed_store_id']);
        $this->assertSame(self::OTHER_STORE, $this->rowOf(2)['shoppingfeed_store_id']);
        $this->assertSame(0, $this->rowOf(3)['shoppingfeed_store_id'], 'untagged');

        $run = $this->chain(['getBatch'], $this->conveyor());
        $claimed = array_column($run['conveyor']['batch'], 'id_order');
        sort($claimed);
        $this->assertSame([1, 3], $claimed, 'store 42: its row and the untagged one, never store 7\'s');
        $run = $this->chain(['getBatch'], $this->conveyor(['shoppingfeed_store_id' => self::OTHER_STORE]));
        $this->assertSame([2], array_column($run['conveyor']['batch'], 'id_order'));
    }

    public function testASaveWithoutAStoreKeepsTheRowsTag(): void
    {
        $this->save(4, $this->snapshot(104, self::CANCELLED), ['shoppingfeed_store_id' => self::OTHER_STORE]);
        $this->save(4, $this->snapshot(104, self::SHIPPED), ['shoppingfeed_store_id' => null, 'token' => null]);
        $row = $this->rowOf(4);
        $this->assertSame(self::SHIPPED, $row['payload']['id_order_state'], 'latest wins');
        $this->assertSame(self::OTHER_STORE, $row['shoppingfeed_store_id']);
    }

    public function testAMalformedStoreIdIsRefusedAndTheQueueUntouched(): void
    {
        foreach (['store-7', -7, [7]] as $bad) {
            $actions = $this->actions($this->conveyor(['id_order' => 5, 'order' => $this->snapshot(105, self::CANCELLED), 'shoppingfeed_store_id' => $bad]));
            try {
                $actions->saveOrder();
                $this->fail('saveOrder accepted the store id ' . json_encode($bad));
            } catch (ShoppingfeedSyncException $e) {
                $this->assertStringContainsString('shoppingfeed_store_id', $e->getMessage());
            }
        }
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(5));
    }

    public function testAShipWithoutTrackingNumberWaitsThenGoesWithTheNumberTypedLater(): void
    {
        $wait = ['SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '4'];
        $without = ['tracking_number' => '', 'tracking_url' => ''];
        $this->save(6, $this->snapshot(106, self::SHIPPED, $without), [], $wait);
        $this->save(7, $this->snapshot(107, self::SHIPPED, $without + ['tracking_expected' => false]), [], $wait);
        $run = $this->send([], $wait);
        $this->assertSame([$this->rowOf(6)['id_shoppingfeed_order']], $run['conveyor']['pending'], 'the ship without number waits');
        $posts = Sandbox::orderPosts();
        $this->assertCount(1, $posts, 'only the carrier without tracking went');
        $this->assertSame(107, $posts[0]['elements'][0]['id']);
        $row = $this->rowOf(6);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(0, $row['attempts'], 'waiting costs no attempt');
        $this->assertStringContainsString('SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT', (string) $row['last_error']);
        $this->assertSame(
            gmdate('Y-m-d H:i:s', strtotime($row['date_add'] . ' UTC') + 4 * 3600),
            $row['update_at'],
            'due when the wait ends, counted from the first save'
        );
        $this->assertFalse($this->send([], $wait)['ok'], 'nothing due meanwhile');

        // The merchant types the number: the same row, latest snapshot, due at once.
        Sandbox::clearLog();
        $this->save(6, $this->snapshot(106, self::SHIPPED), [], $wait);
        $this->assertSame($row['id_shoppingfeed_order'], $this->rowOf(6)['id_shoppingfeed_order']);
        $this->sendAll([], $wait);
        $posts = Sandbox::orderPosts();
        $this->assertCount(1, $posts);
        $this->assertSame('TRK106', $posts[0]['elements'][0]['trackingNumber']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(6)['state']);
    }

    public function testATrackingWaitOutOfBoundsIsRefusedByName(): void
    {
        $this->save(8, $this->snapshot(108, self::SHIPPED, ['tracking_number' => '']));
        $actions = $this->actions($this->conveyor([], ['SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '169']));
        $this->assertTrue($actions->getBatch());
        try {
            $actions->prepareBatch();
            $this->fail('a wait of 169 hours was accepted');
        } catch (ShoppingfeedSyncException $e) {
            $this->assertStringContainsString('SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT', $e->getMessage());
        }
    }
}
