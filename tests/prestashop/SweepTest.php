<?php
/**
 * ShoppingfeedOrderSyncSweep: state changes written straight into
 * order_history / orders (a payment module's webhook, an ERP, a script:
 * no OrderHistory::changeIdOrderState(), so no hook) reach the extension's
 * queue at the next cron; bounded per run, idempotent, one marker per shop.
 * Each sweep runs in a child PHP booted like the shop, with the
 * integration placed in its root.
 */
final class SweepTest extends PrestashopTestCase
{
    const MARKER = 'SHOPPINGFEED_ORDER_SYNC_SWEEP_LAST_ID';

    /** @var int */
    private $idToken;
    /** @var int */
    private $idCarrier;

    protected function setUp(): void
    {
        parent::setUp();
        $this->placeIntegration();
        $this->idToken = $this->token();
        $this->idCarrier = $this->carrier();
    }

    private function sweep(int $idShop = self::SHOP, ?int $limit = null): array
    {
        $run = $this->runInShop('require_once _PS_MODULE_DIR_ . "shoppingfeed/classes/takeover/ShoppingfeedOrderSyncSweep.php";'
            . ' $s = new ShoppingfeedOrderSyncSweep();'
            . ' echo json_encode(' . ($limit === null ? '$s->run(' . $idShop . ')' : '$s->run(' . $idShop . ', ' . $limit . ')') . ');');
        $this->assertChildOk($run);
        $this->assertSame('', $run['stderr']);
        $this->assertIsArray($run['json'], $run['stdout']);

        return $run['json'];
    }

    /** What a webhook does: a history row and the order's state, no hook. */
    private static function writeState(int $idOrder, int $state, ?string $date = null): int
    {
        $db = Db::getInstance();
        $db->insert('order_history', ['id_order' => $idOrder, 'id_order_state' => $state, 'id_employee' => 0,
            'date_add' => $date ?: date('Y-m-d H:i:s')]);
        $id = $db->Insert_ID();
        $db->update('orders', ['current_state' => $state], 'id_order = ' . $idOrder);

        return $id;
    }

    private function order(int $idShop = self::SHOP, ?int $idToken = null): int
    {
        $o = $this->importedOrder($idToken ?: $this->idToken, ['id_shop' => $idShop, 'id_carrier' => $this->idCarrier, 'tracking_number' => 'T-1']);
        self::writeState($o['id_order'], self::PAYMENT_ACCEPTED);

        return $o['id_order'];
    }

    private static function statusRows(int $idOrder): array
    {
        return array_values(array_filter(ShoppingfeedOrderSyncQueue::find($idOrder), static function ($row) {
            return $row['action'] === 'SYNC_STATUS';
        }));
    }

    private function marker(int $idShop)
    {
        return Db::getInstance()->getValue('SELECT value FROM ' . _DB_PREFIX_ . "configuration WHERE name = '" . self::MARKER
            . "' AND id_shop = " . $idShop);
    }

    public function testTheFirstSweepOnlySetsTheMarker(): void
    {
        $idOrder = $this->order();
        $last = self::writeState($idOrder, self::SHIPPED);

        $stats = $this->sweep();
        $this->assertTrue($stats['initialized']);
        $this->assertSame($last, $stats['marker']);
        $this->assertSame(0, $stats['queued']);
        $this->assertSame((string) $last, $this->marker(self::SHOP), 'saved for the shop');
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($idOrder), 'the past is not pushed');
    }

    public function testAStateWrittenWithoutTheHookIsQueuedOnceWithItsSnapshot(): void
    {
        $idOrder = $this->order();
        $this->sweep();
        self::writeState($idOrder, self::SHIPPED);

        $stats = $this->sweep();
        $this->assertSame(1, $stats['examined']);
        $this->assertSame(1, $stats['queued']);
        $rows = self::statusRows($idOrder);
        $this->assertCount(1, $rows);
        $this->assertSame(self::SHIPPED, $rows[0]['payload']['id_order_state']);
        $this->assertSame('T-1', $rows[0]['payload']['tracking_number']);
        $this->assertSame(Sandbox::STORE_ID, $rows[0]['shoppingfeed_store_id'] ?? null);

        $again = $this->sweep();
        $this->assertSame(0, $again['examined'], 'the marker moved past it');
        $this->assertCount(1, self::statusRows($idOrder));

        // Even from the start again, the row saved after the history row counts.
        Configuration::updateValue(self::MARKER, 0, false, null, self::SHOP);
        $replay = $this->sweep();
        $this->assertSame(0, $replay['queued']);
        $this->assertSame(1, $replay['already_queued']);
        $this->assertSame($rows[0]['date_upd'], self::statusRows($idOrder)[0]['date_upd'], 'not saved again');
    }

    public function testAStateTheHookAlreadyQueuedIsNotQueuedAgain(): void
    {
        $idOrder = $this->order();
        $this->sweep();
        $run = $this->runInShop('(new OrderHistory())->changeIdOrderState(' . self::CANCELLED . ', ' . $idOrder . ');'
            . ' $h = new OrderHistory(); $h->id_order = ' . $idOrder . '; $h->id_order_state = ' . self::CANCELLED . '; $h->add();');
        $this->assertChildOk($run);
        $this->assertCount(1, self::statusRows($idOrder), 'the hook (override) queued it');
        $before = self::statusRows($idOrder)[0]['date_upd'];

        $stats = $this->sweep();
        $this->assertSame(1, $stats['already_queued']);
        $this->assertSame(0, $stats['queued']);
        $this->assertSame($before, self::statusRows($idOrder)[0]['date_upd']);
    }

    public function testUnlistedStatesAndOrdersOlderThanNinetyDaysAreSkippedAndTheMarkerMoves(): void
    {
        $processing = $this->order();
        $old = $this->order();
        Db::getInstance()->update('orders', ['date_add' => date('Y-m-d H:i:s', time() - 100 * 86400)], 'id_order = ' . $old);
        $this->sweep();
        self::writeState($processing, self::PROCESSING);
        $last = self::writeState($old, self::SHIPPED);

        $stats = $this->sweep();
        $this->assertSame(2, $stats['examined']);
        $this->assertSame(1, $stats['not_listed']);
        $this->assertSame(1, $stats['too_old']);
        $this->assertSame(0, $stats['queued']);
        $this->assertSame($last, $stats['marker']);
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($processing));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($old));
    }

    public function testASweepIsBoundedByItsLimitOldestFirstAndTheNextOnesGoOn(): void
    {
        $orders = [];
        for ($i = 0; $i < 5; $i++) {
            $orders[] = $this->order();
        }
        $this->sweep();
        $plainOrder = $this->plainOrder();
        self::writeState($plainOrder, self::SHIPPED); // not the module's: never looked at
        $history = [];
        foreach ($orders as $idOrder) {
            $history[$idOrder] = self::writeState($idOrder, self::SHIPPED);
        }

        $first = $this->sweep(self::SHOP, 2);
        $this->assertSame(2, $first['queued']);
        $this->assertSame($history[$orders[1]], $first['marker'], 'past what was looked at only');
        $this->assertCount(1, self::statusRows($orders[0]));
        $this->assertCount(1, self::statusRows($orders[1]));
        $this->assertSame([], self::statusRows($orders[2]));

        $this->assertSame(2, $this->sweep(self::SHOP, 2)['queued']);
        $third = $this->sweep(self::SHOP, 2);
        $this->assertSame(1, $third['queued']);
        $this->assertSame($history[$orders[4]], $third['marker']);
        $this->assertSame(0, $this->sweep(self::SHOP, 2)['examined']);
        foreach ($orders as $idOrder) {
            $this->assertCount(1, self::statusRows($idOrder));
        }
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($plainOrder));
    }

    public function testEachShopHasItsOwnMarker(): void
    {
        $shop2 = $this->shop('Shop two');
        $this->configureOrderSync($shop2);
        $token2 = $this->token($shop2, 'token-two', 77);
        $one = $this->order();
        $two = $this->order($shop2, $token2);
        $this->sweep(self::SHOP);
        self::writeState($one, self::SHIPPED);
        self::writeState($two, self::SHIPPED);

        $stats2 = $this->sweep($shop2);
        $this->assertTrue($stats2['initialized'], 'shop 2 had no marker yet');
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($two));

        $stats1 = $this->sweep(self::SHOP);
        $this->assertSame(1, $stats1['examined'], 'shop 1 sweeps its own orders only');
        $this->assertSame(1, $stats1['queued']);
        $this->assertCount(1, self::statusRows($one));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($two));

        $last2 = self::writeState($two, self::DELIVERED);
        $again2 = $this->sweep($shop2);
        $this->assertSame(1, $again2['queued']);
        $this->assertSame($last2, $again2['marker']);
        $rows = self::statusRows($two);
        $this->assertSame(self::DELIVERED, $rows[0]['payload']['id_order_state']);
        $this->assertSame($shop2, $rows[0]['id_shop']);
        $this->assertNotSame($this->marker(self::SHOP), $this->marker($shop2));
    }
}
