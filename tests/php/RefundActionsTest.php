<?php

/**
 * ShoppingfeedOrderSyncRefundActions (SYNC_REFUND): one credit slip, one
 * refund, through the classlib chains against the sandbox. Two slips of
 * one order are two refunds, each sent once; a slip saved twice is one;
 * the references (combinations included) and quantities go as given.
 */
final class RefundActionsTest extends SyncTestCase
{
    const REFUND_CLASS = 'ShoppingfeedOrderSyncRefundActions';

    private function slip(int $internalId, int $idSlip, array $products, bool $shipping = false): array
    {
        return [
            'id_internal_shoppingfeed' => $internalId,
            'id_order_slip' => $idSlip,
            'refund' => ['shipping' => $shipping, 'products' => $products],
        ];
    }

    private function saveSlip(int $idOrder, array $slip): array
    {
        return $this->save($idOrder, $slip, ['order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_REFUND], [], self::REFUND_CLASS);
    }

    private function sendRefunds(): array
    {
        return $this->chain(['getBatch', 'prepareBatch', 'sendBatch'],
            $this->conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_REFUND]), self::REFUND_CLASS);
    }

    private function checkRefunds(): array
    {
        return $this->chain(['getBatch', 'checkTickets'],
            $this->conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_REFUND]), self::REFUND_CLASS);
    }

    private function refundRows(int $idOrder): array
    {
        return array_values(array_filter(ShoppingfeedOrderSyncQueue::find($idOrder), static function ($r) {
            return strpos($r['action'], 'SYNC_REFUND') !== false;
        }));
    }

    public function testTwoSlipsOfOneOrderAreTwoRefundsEachSentOnceWithItsOwnProducts(): void
    {
        $this->saveSlip(1, $this->slip(501, 11, [['reference' => '10', 'quantity' => 1], ['reference' => '11_5', 'quantity' => 2]], true));
        $this->saveSlip(1, $this->slip(501, 12, [['reference' => '12', 'quantity' => 1]]));
        $this->saveSlip(2, $this->slip(502, 21, [['reference' => 'SKU-RED-XL', 'quantity' => 1]]));
        $rows = $this->refundRows(1);
        $this->assertCount(2, $rows, 'two slips, two rows');
        $this->assertSame([11, 12], array_column($rows, 'subject'));

        $runs = [$this->sendRefunds(), $this->sendRefunds()];
        $this->assertTrue($runs[0]['ok']);
        $posts = Sandbox::orderPosts();
        $this->assertSame(['refund', 'refund'], array_column($posts, 'operation'), 'one request per slip of the order');
        // Both requests go at once: the larger first.
        usort($posts, static function ($a, $b) {
            return count($b['elements']) <=> count($a['elements']);
        });
        $first = $posts[0]['elements'];
        $this->assertSame([501, 502], array_column($first, 'id'), 'order 1 once per request');
        $this->assertSame(['shipping' => true, 'products' => [['reference' => '10', 'quantity' => 1], ['reference' => '11_5', 'quantity' => 2]]],
            $first[0]['refund'], 'the first slip: its own products, combinations kept, its shipping flag');
        $this->assertSame([['id' => 501, 'refund' => ['shipping' => false, 'products' => [['reference' => '12', 'quantity' => 1]]]]],
            $posts[1]['elements'], 'the second slip alone, neither merged nor replaced');
        $this->assertNotSame($posts[0]['batch_id'], $posts[1]['batch_id']);

        $this->checkRefunds();
        $this->checkRefunds();
        foreach (array_merge($this->refundRows(1), $this->refundRows(2)) as $row) {
            $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $row['state'], json_encode($row));
            $this->assertSame('refund', $row['operation']);
        }
        Sandbox::clearLog();
        $this->assertSame('getBatch', $this->sendRefunds()['stopped'], 'nothing sent twice');
        $this->assertSame([], Sandbox::orderPosts());
    }

    public function testASlipSavedTwiceIsOneRefundEvenOnceSent(): void
    {
        $slip = $this->slip(511, 31, [['reference' => '10', 'quantity' => 1]]);
        $a = $this->saveSlip(3, $slip)['id_shoppingfeed_order'];
        $b = $this->saveSlip(3, $slip)['id_shoppingfeed_order'];
        $this->assertSame($a, $b);
        $this->sendRefunds();
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->refundRows(3)[0]['state']);
        // The hook fires again for the same slip (a module re-saving it): nothing new.
        $this->assertSame($a, $this->saveSlip(3, $slip)['id_shoppingfeed_order']);
        $this->assertCount(1, $this->refundRows(3));
        Sandbox::clearLog();
        $this->assertSame('getBatch', $this->sendRefunds()['stopped']);
        $this->assertSame([], Sandbox::orderPosts());
    }

    public function testAFailedRefundTicketIsRetriedThenFailsAtTheLimit(): void
    {
        Sandbox::config(['fail_orders' => ['521' => 'Refund refused by the marketplace']]);
        $this->saveSlip(4, $this->slip(521, 41, [['reference' => '10', 'quantity' => 1]]));
        $settings = ['SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => 2];
        $failed = [];
        for ($i = 0; $i < 2; $i++) {
            $this->chain(['getBatch', 'prepareBatch', 'sendBatch'],
                $this->conveyor(['order_action' => 'SYNC_REFUND'], $settings), self::REFUND_CLASS);
            $run = $this->chain(['getBatch', 'checkTickets'],
                $this->conveyor(['order_action' => 'CHECK_TICKET_SYNC_REFUND'], $settings), self::REFUND_CLASS);
            $failed = array_merge($failed, $run['conveyor']['failed'] ?? []);
        }
        $row = $this->refundRows(4)[0];
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $row['state']);
        $this->assertSame(2, $row['failures']);
        $this->assertStringContainsString('Refund refused by the marketplace', (string) $row['last_error']);
        $this->assertCount(1, $failed, 'listed once for the mail');
        $this->assertSame(41, $failed[0]['subject']);
    }

    public function testBadRefundSnapshotsAreRefusedByNameAndTheQueueUntouched(): void
    {
        $cases = [
            'id_order_slip' => ['id_internal_shoppingfeed' => 1, 'refund' => ['shipping' => false, 'products' => [['reference' => 'a', 'quantity' => 1]]]],
            'order.refund is missing' => ['id_internal_shoppingfeed' => 1, 'id_order_slip' => 5],
            'order.refund.products is empty' => ['id_internal_shoppingfeed' => 1, 'id_order_slip' => 5, 'refund' => ['shipping' => true, 'products' => []]],
            'order.refund.products must list' => ['id_internal_shoppingfeed' => 1, 'id_order_slip' => 5, 'refund' => ['products' => [['reference' => 'a', 'quantity' => 0]]]],
        ];
        foreach ($cases as $needle => $snapshot) {
            $actions = $this->actions($this->conveyor(['id_order' => 9, 'order_action' => 'SYNC_REFUND', 'order' => $snapshot]), self::REFUND_CLASS);
            try {
                $actions->saveOrder();
                $this->fail("accepted a snapshot without $needle");
            } catch (ShoppingfeedSyncException $e) {
                $this->assertStringContainsString($needle, $e->getMessage());
            }
        }
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(9));
    }

    public function testTheFullRefundOfTheStatusListsKeepsWorking(): void
    {
        $this->save(5, $this->snapshot(531, self::REFUNDED));
        $this->send();
        $posts = Sandbox::orderPosts();
        $this->assertSame('refund', $posts[0]['operation']);
        $this->assertSame(['shipping' => true, 'products' => []], $posts[0]['elements'][0]['refund']);
    }
}
