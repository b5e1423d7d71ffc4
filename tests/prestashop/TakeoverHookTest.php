<?php
/**
 * The override of the module's main class (php/override/modules/shoppingfeed/shoppingfeed.php)
 * and ShoppingfeedOrderSyncTakeover, as a shop runs them: the integration
 * placed in the fake shop root, a state change, a credit slip or a
 * tracking number made through PrestaShop's stand-ins (OrderHistory,
 * OrderSlip, OrderCarrier, Hook) in a child PHP booted like the shop,
 * then the extension's queue read here (ShoppingfeedOrderSyncQueue::find()).
 *
 * Why: with the extension loaded and no takeover, these requests die on
 * "Cannot declare class ShoppingfeedOrderSyncActions" (ModuleStandInTest);
 * with the takeover they must reach the extension with the snapshot the
 * module would have sent, tagged with the order's store, and without the
 * extension the module's own path must still run.
 */
final class TakeoverHookTest extends PrestashopTestCase
{
    /** @var int */
    private $idToken;
    /** @var int */
    private $idCarrier;

    protected function setUp(): void
    {
        parent::setUp();
        $this->installModule(['actionAdminOrdersTrackingNumberUpdate', 'actionObjectOrderCarrierUpdateAfter']);
        $this->placeIntegration();
        $this->idToken = $this->token();
        $this->idCarrier = $this->carrier('Colissimo', 'https://track.example/?n=@');
    }

    private function order(array $o = []): array
    {
        return $this->importedOrder($this->idToken, $o + ['id_carrier' => $this->idCarrier, 'tracking_number' => 'TRK-1',
            'reference' => 'AMZ-100', 'marketplace' => 'amazon', 'id_internal' => 9001]);
    }

    private static function changeState(int $idOrder, int $state, int $idShop = self::SHOP): string
    {
        return 'Hook::$idShop = ' . $idShop . '; (new OrderHistory())->changeIdOrderState(' . $state . ', ' . $idOrder . ');'
            . ' echo json_encode(["module_class" => get_class(Module::getInstanceByName("shoppingfeed"))]);';
    }

    private function assertQuiet(array $run): void
    {
        $this->assertChildOk($run);
        $this->assertSame('', $run['stderr'], 'no warning, no error');
    }

    private static function statusRows(int $idOrder, string $action = 'SYNC_STATUS'): array
    {
        return array_values(array_filter(ShoppingfeedOrderSyncQueue::find($idOrder), static function ($row) use ($action) {
            return $row['action'] === $action;
        }));
    }

    public function testAShippedStateOfAShoppingFeedOrderReachesTheQueueWithTheModulesSnapshotAndStore(): void
    {
        $order = $this->order();
        $run = $this->runInShop(self::changeState($order['id_order'], self::SHIPPED));

        $this->assertQuiet($run);
        $this->assertSame('ShoppingfeedOverride', $run['json']['module_class']);
        $rows = self::statusRows($order['id_order']);
        $this->assertCount(1, $rows);
        $this->assertSame('pending', $rows[0]['state']);
        $this->assertSame(self::SHOP, $rows[0]['id_shop']);
        $this->assertSame([
            'id_internal_shoppingfeed' => 9001,
            'reference' => 'AMZ-100',
            'marketplace' => 'amazon',
            'id_order_state' => self::SHIPPED,
            'carrier' => 'Colissimo',
            'tracking_number' => 'TRK-1',
            'tracking_url' => 'https://track.example/?n=TRK-1',
            'tracking_expected' => true,
        ], $rows[0]['payload']);
        $this->assertSame(Sandbox::STORE_ID, $rows[0]['shoppingfeed_store_id'] ?? null, 'tagged with the store of the order\'s token');
        $this->assertSame([], $this->taskOrders(), 'the module\'s own queue is not used');
    }

    public function testACancelCarriesNoShipmentAndACarrierWithoutUrlExpectsNoTracking(): void
    {
        $cancelled = $this->order();
        $this->assertQuiet($this->runInShop(self::changeState($cancelled['id_order'], self::CANCELLED)));
        $this->assertSame(['id_internal_shoppingfeed' => 9001, 'reference' => 'AMZ-100', 'marketplace' => 'amazon',
            'id_order_state' => self::CANCELLED], self::statusRows($cancelled['id_order'])[0]['payload']);

        $pickup = $this->order(['id_carrier' => $this->carrier('Shop pickup', ''), 'tracking_number' => '', 'id_internal' => 9002]);
        $this->assertQuiet($this->runInShop(self::changeState($pickup['id_order'], self::SHIPPED)));
        $payload = self::statusRows($pickup['id_order'])[0]['payload'];
        $this->assertSame('Shop pickup', $payload['carrier']);
        $this->assertSame('', $payload['tracking_number']);
        $this->assertFalse($payload['tracking_expected'], 'a carrier with no tracking URL never waits for a number');
    }

    public function testAnOrderTheModuleDidNotImportAndAnUnlistedStateQueueNothing(): void
    {
        $plain = $this->plainOrder(['id_carrier' => $this->idCarrier]);
        $this->assertQuiet($this->runInShop(self::changeState($plain, self::SHIPPED)));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($plain));

        $order = $this->order();
        $this->assertQuiet($this->runInShop(self::changeState($order['id_order'], self::PROCESSING)));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($order['id_order']), 'state 3 is in no list');
        $this->assertSame([], $this->taskOrders());
    }

    public function testTheModulesSwitchIsReadGloballyAndPerShopAndListsSavedGloballyApplyToEveryShop(): void
    {
        $shop2 = $this->shop('Shop two');
        $this->installModule(['actionAdminOrdersTrackingNumberUpdate', 'actionObjectOrderCarrierUpdateAfter'], [$shop2]);
        $token2 = $this->token($shop2, 'token-of-shop-two', 77);
        // Shop 2's lists are saved globally only: PrestaShop falls back to them.
        Configuration::updateValue('SHOPPINGFEED_SHIPPED_ORDERS', json_encode([self::SHIPPED]));
        Configuration::updateValue('SHOPPINGFEED_CANCELLED_ORDERS', json_encode([self::CANCELLED]));

        $a = $this->importedOrder($token2, ['id_shop' => $shop2, 'id_carrier' => $this->idCarrier, 'state' => self::PAYMENT_ACCEPTED]);
        $this->assertQuiet($this->runInShop(self::changeState($a['id_order'], self::SHIPPED, $shop2)));
        $rows = self::statusRows($a['id_order']);
        $this->assertCount(1, $rows, 'the global list applies to shop 2');
        $this->assertSame($shop2, $rows[0]['id_shop']);
        $this->assertSame(77, $rows[0]['shoppingfeed_store_id'] ?? null);

        // The module's switch turned off for shop 2 only.
        Configuration::updateValue('SHOPPINGFEED_ORDER_SYNC_ENABLED', 0, false, null, $shop2);
        $b = $this->importedOrder($token2, ['id_shop' => $shop2, 'id_carrier' => $this->idCarrier, 'state' => self::PAYMENT_ACCEPTED]);
        $this->assertQuiet($this->runInShop(self::changeState($b['id_order'], self::CANCELLED, $shop2)));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($b['id_order']), 'switched off for shop 2');

        // The extension's own switch for shop 2 turns it on again.
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED', 1, false, null, $shop2);
        $this->assertQuiet($this->runInShop(self::changeState($b['id_order'], self::SHIPPED, $shop2)));
        $this->assertCount(1, self::statusRows($b['id_order']));

        // Shop 1 keeps its own (shop-level) lists and the global switch.
        $c = $this->order();
        $this->assertQuiet($this->runInShop(self::changeState($c['id_order'], self::SHIPPED)));
        $this->assertCount(1, self::statusRows($c['id_order']));
        Configuration::updateValue('SHOPPINGFEED_ORDER_SYNC_ENABLED', 0);
        $d = $this->order();
        $this->assertQuiet($this->runInShop(self::changeState($d['id_order'], self::SHIPPED)));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($d['id_order']), 'the module reads its switch globally');
    }

    public function testTwoTokensOfOneShopTagEachRowWithItsOrdersStore(): void
    {
        $other = $this->token(self::SHOP, 'second-store-token', 4343);
        $a = $this->order();
        $b = $this->importedOrder($other, ['id_carrier' => $this->idCarrier, 'tracking_number' => 'TRK-B', 'state' => self::PAYMENT_ACCEPTED]);
        $this->assertQuiet($this->runInShop(self::changeState($a['id_order'], self::SHIPPED) . self::changeState($b['id_order'], self::SHIPPED)));

        $this->assertSame(Sandbox::STORE_ID, self::statusRows($a['id_order'])[0]['shoppingfeed_store_id'] ?? null);
        $this->assertSame(4343, self::statusRows($b['id_order'])[0]['shoppingfeed_store_id'] ?? null);
    }

    public function testTheTokenOfAnOrderFallsBackToTheShopsOnlyActiveToken(): void
    {
        $code = 'require_once _PS_MODULE_DIR_ . "shoppingfeed/classes/takeover/ShoppingfeedOrderSyncTakeover.php";'
            . ' $t = new ShoppingfeedOrderSyncTakeover(); $r = $t->tokenForOrder((int) $argv[1]);'
            . ' echo json_encode($r === null ? null : ["id" => $r["id_shoppingfeed_token"], "store" => $r["shoppingfeed_store_id"], "has_token" => $r["token"] !== ""]);';
        $inactive = $this->token(self::SHOP, 'retired-token', 5555, false);
        $order = $this->importedOrder($inactive, ['state' => self::PAYMENT_ACCEPTED]);

        $run = $this->runInShop($code, [$order['id_order']]);
        $this->assertQuiet($run);
        $this->assertSame(['id' => $this->idToken, 'store' => Sandbox::STORE_ID, 'has_token' => true], $run['json'],
            'its own token is inactive: the shop\'s only active one');

        $this->token(self::SHOP, 'another-active-token', 6666);
        $run = $this->runInShop($code, [$order['id_order']]);
        $this->assertQuiet($run);
        $this->assertNull($run['json'], 'two active tokens: no guess');
    }

    public function testAnIntegratorsActionShoppingfeedTrackingHookRewritesTheShip(): void
    {
        ShopRoot::putFile($this->root, 'modules/sftracker/sftracker.php', <<<'PHP'
<?php
class Sftracker extends Module
{
    public $name = 'sftracker';

    public function hookActionShoppingfeedTracking($params)
    {
        $params['taskOrderPayload']['carrier_name'] = 'DHL via ' . get_class($params['order']);
        $params['taskOrderPayload']['tracking_number'] = 'DHL-' . $params['taskOrderPayload']['tracking_number'];
        $params['taskOrderPayload']['tracking_url'] = 'https://dhl.example/' . $params['taskOrderPayload']['tracking_number'];
    }
}
PHP
        );
        Db::getInstance()->insert('module', ['name' => 'sftracker', 'active' => 1, 'version' => '1.0.0']);
        Hook::register(Db::getInstance()->Insert_ID(), 'actionShoppingfeedTracking', self::SHOP);
        $order = $this->order();

        $this->assertQuiet($this->runInShop(self::changeState($order['id_order'], self::SHIPPED)));
        $payload = self::statusRows($order['id_order'])[0]['payload'];
        $this->assertSame('DHL via Order', $payload['carrier']);
        $this->assertSame('DHL-TRK-1', $payload['tracking_number']);
        $this->assertSame('https://dhl.example/DHL-TRK-1', $payload['tracking_url']);
    }

    public function testACreditSlipQueuesARefundOfThatSlipsProducts(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ALLOW_PARTIAL_REFUND', 1);
        $order = $this->order(['products' => [
            ['product_id' => 10, 'product_attribute_id' => 0, 'product_reference' => 'REF-10', 'product_quantity' => 2],
            ['product_id' => 11, 'product_attribute_id' => 5, 'product_reference' => 'REF-11-5', 'product_quantity' => 1],
            ['product_id' => 12, 'product_attribute_id' => 0, 'product_reference' => 'REF-12', 'product_quantity' => 1],
        ]]);
        [$d10, $d11] = $order['id_order_details'];

        $run = $this->runInShop('OrderSlip::create(new Order(' . $order['id_order'] . '), [' . $d10 . ' => 1, ' . $d11 . ' => 1], true);');
        $this->assertQuiet($run);
        $rows = self::statusRows($order['id_order'], 'SYNC_REFUND');
        $this->assertCount(1, $rows);
        $idSlip = (int) Db::getInstance()->getValue('SELECT MAX(id_order_slip) FROM ' . _DB_PREFIX_ . 'order_slip');
        $this->assertSame([
            'id_internal_shoppingfeed' => 9001,
            'reference' => 'AMZ-100',
            'marketplace' => 'amazon',
            'id_order_slip' => $idSlip,
            'refund' => ['shipping' => true, 'products' => [
                ['reference' => '10', 'quantity' => 1],      // the feed's default reference: id_product
                ['reference' => '11_5', 'quantity' => 1],    // id_product_id_product_attribute: combinations kept
            ]],
        ], $rows[0]['payload']);
        $this->assertSame([], $this->taskOrders());
    }

    public function testWhileTheExtensionHasNoRefundClassCreditSlipsWaitInTheModulesQueue(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ALLOW_PARTIAL_REFUND', 1);
        $order = $this->order(['products' => [['product_id' => 10, 'product_quantity' => 3]]]);
        $slip = 'OrderSlip::create(new Order(' . $order['id_order'] . '), [' . $order['id_order_details'][0] . ' => 1]);';

        $this->assertQuiet($this->runInShop(self::WITHOUT_FIELD_CLASSES . $slip));
        $first = $this->taskOrders();
        sleep(1);
        $this->assertQuiet($this->runInShop(self::WITHOUT_FIELD_CLASSES . $slip));

        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($order['id_order']), 'no queue row that no class would send');
        $tasks = $this->taskOrders();
        $this->assertSame(['PARTIAL_REFUND'], array_column($tasks, 'action'), 'one task per order, as the module keeps them');
        $this->assertSame((int) $order['id_order'], (int) $tasks[0]['id_order']);
        $this->assertSame($first[0]['date_add'], $tasks[0]['date_add'], 'the first date stays: every slip since then goes later');
        $this->assertCount(2, $this->rows('order_slip', 'id_order = ' . (int) $order['id_order']));
    }

    public function testAnInvoiceStateQueuesEveryInvoicePdfOfTheOrderRenderedByPrestaShop(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_INVOICE_SYNC_MARKETPLACES', json_encode(['Amazon']));
        Configuration::updateValue('PS_INVOICE_PREFIX', '#FA');
        $order = $this->order();
        foreach ([17, 18] as $number) {
            Db::getInstance()->insert('order_invoice', ['id_order' => $order['id_order'], 'number' => $number, 'date_add' => date('Y-m-d H:i:s')]);
        }

        $this->assertQuiet($this->runInShop(self::changeState($order['id_order'], self::PAYMENT_ACCEPTED)));
        $rows = self::statusRows($order['id_order'], 'SYNC_INVOICE');
        $this->assertCount(1, $rows, 'one update per order, every invoice in it');
        $payload = $rows[0]['payload'];
        $this->assertSame(9001, $payload['id_internal_shoppingfeed']);
        $this->assertSame(18, $payload['invoice_number']);
        $this->assertSame(['#FA000017.pdf', '#FA000018.pdf'], array_column($payload['documents'], 'name'));
        foreach ($payload['documents'] as $doc) {
            $this->assertSame('invoice', $doc['type']);
            $this->assertGreaterThan(20, $doc['size'], 'the bytes of PDF::render(false) are in the queue');
        }
        $this->assertSame([], $this->taskOrders());

        // Another invoice state later (the invoices are the same): the pending update is replaced, not doubled.
        $this->assertQuiet($this->runInShop(self::changeState($order['id_order'], self::PAYMENT_ACCEPTED)));
        $this->assertCount(1, self::statusRows($order['id_order'], 'SYNC_INVOICE'));
    }

    public function testACreditSlipIsIgnoredWhenPartialRefundsAreOff(): void
    {
        $order = $this->order(['products' => [['product_id' => 10, 'product_quantity' => 1]]]);
        $this->assertQuiet($this->runInShop('OrderSlip::create(new Order(' . $order['id_order'] . '), [' . $order['id_order_details'][0] . ' => 1]);'));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($order['id_order']));
    }

    public function testALateTrackingNumberReplacesTheWaitingShipsSnapshot(): void
    {
        $order = $this->order(['tracking_number' => '']);
        $this->assertQuiet($this->runInShop(self::changeState($order['id_order'], self::SHIPPED)));
        $rows = self::statusRows($order['id_order']);
        $this->assertSame('', $rows[0]['payload']['tracking_number']);
        $this->assertSame('', $rows[0]['payload']['tracking_url']);

        // PrestaShop's OrderCarrier::update() (the back office, the webservice, a carrier module).
        $run = $this->runInShop('$oc = new OrderCarrier(' . $order['id_order_carrier'] . '); $oc->tracking_number = "LATE-1"; $oc->update();');
        $this->assertQuiet($run);
        $after = self::statusRows($order['id_order']);
        $this->assertCount(1, $after, 'the same row, its snapshot replaced');
        $this->assertSame($rows[0]['id_shoppingfeed_order'], $after[0]['id_shoppingfeed_order']);
        $this->assertSame('pending', $after[0]['state']);
        $this->assertSame('LATE-1', $after[0]['payload']['tracking_number']);
        $this->assertSame('https://track.example/?n=LATE-1', $after[0]['payload']['tracking_url']);

        // The back office's hook after its own update (here the row was written without a hook).
        Db::getInstance()->update('order_carrier', ['tracking_number' => 'LATE-2'], 'id_order_carrier = ' . (int) $order['id_order_carrier']);
        $run = $this->runInShop('$o = new Order(' . $order['id_order'] . ');'
            . ' Hook::exec("actionAdminOrdersTrackingNumberUpdate", ["order" => $o, "customer" => null, "carrier" => new Carrier($o->id_carrier)]);');
        $this->assertQuiet($run);
        $this->assertSame('LATE-2', self::statusRows($order['id_order'])[0]['payload']['tracking_number']);
    }

    public function testATrackingUpdateOfAnOrderWithNothingWaitingQueuesNothing(): void
    {
        $order = $this->order();
        $run = $this->runInShop('$oc = new OrderCarrier(' . $order['id_order_carrier'] . '); $oc->tracking_number = "X-1"; $oc->update();');
        $this->assertQuiet($run);
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($order['id_order']));
    }

    public function testTheModulesProtectedAddOrderTaskReachesTheQueue(): void
    {
        $order = $this->order(['state' => self::SHIPPED]);
        $run = $this->runInShop('$m = Module::getInstanceByName("shoppingfeed"); $r = new ReflectionMethod($m, "addOrderTask");'
            . ' $r->setAccessible(true); $r->invoke($m, ' . $order['id_order'] . ', ShoppingfeedTaskOrder::ACTION_SYNC_STATUS);');
        $this->assertQuiet($run);
        $rows = self::statusRows($order['id_order']);
        $this->assertCount(1, $rows);
        $this->assertSame(self::SHIPPED, $rows[0]['payload']['id_order_state'], 'the order\'s current state');
    }

    public function testWithoutTheExtensionTheModulesOwnSyncRunsWithoutAnyError(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ALLOW_PARTIAL_REFUND', 1);
        $order = $this->order(['products' => [['product_id' => 10, 'product_quantity' => 1]]]);
        $run = $this->runInShop(self::changeState($order['id_order'], self::SHIPPED)
            . ' $oc = new OrderCarrier(' . $order['id_order_carrier'] . '); $oc->tracking_number = "LATE-9"; $oc->update();'
            . ' Hook::exec("actionAdminOrdersTrackingNumberUpdate", ["order" => new Order(' . $order['id_order'] . ')]);'
            . ' OrderSlip::create(new Order(' . $order['id_order'] . '), [' . $order['id_order_details'][0] . ' => 1]);',
            [], ['extension' => false]);

        $this->assertQuiet($run);
        $this->assertSame('ShoppingfeedOverride', $run['json']['module_class']);
        $this->assertEqualsCanonicalizing(['SYNC_STATUS', 'PARTIAL_REFUND'], array_column($this->taskOrders(), 'action'),
            'the module\'s own path queued its tasks');
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($order['id_order']));
    }
}
