<?php

/**
 * The actionOrderStatusPostUpdate glue: snapshot, state lists, the
 * ActionsHandler call, and never an exception into the merchant's request.
 */
final class HookTest extends SyncTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        foreach ([
            'SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED' => '1',
            'SHOPPINGFEED_SHIPPED_ORDERS' => '[4, 14]',
            'SHOPPINGFEED_CANCELLED_ORDERS' => '[6]',
            'SHOPPINGFEED_REFUNDED_ORDERS' => '["7"]',
            'SHOPPINGFEED_DELIVERED_ORDERS' => '[5]',
            'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => '0',
            'SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '0',
        ] as $key => $value) {
            Configuration::updateValue($key, $value);
        }
    }

    private function provider(): ArrayOrderDataProvider
    {
        return new ArrayOrderDataProvider([
            10 => [
                'id_shop' => 1,
                'id_internal_shoppingfeed' => 9010,
                'reference' => 'AMZ-10',
                'marketplace' => 'Amazon',
                'carrier' => 'Colissimo',
                'tracking_number' => '6A123',
                'carrier_url' => 'https://www.laposte.fr/outils/suivre-vos-envois?code=@',
            ],
            11 => [
                'id_shop' => 1,
                'id_internal_shoppingfeed' => null,
                'reference' => 'CD-11',
                'marketplace' => 'Cdiscount',
                'carrier' => 'DHL',
                'tracking_number' => '',
                'carrier_url' => 'https://dhl.example/?n=@',
            ],
            12 => [
                'id_shop' => 2,
                'id_internal_shoppingfeed' => 9012,
                'reference' => 'FN-12',
                'marketplace' => 'Fnac',
                'carrier' => 'UPS',
                'tracking_number' => '1Z999',
                'carrier_url' => '',
            ],
        ]);
    }

    private function fire(ShoppingfeedOrderSyncHook $hook, $idOrder, int $idState): bool
    {
        $state = new stdClass(); // stands for PrestaShop's OrderState
        $state->id = $idState;

        return $hook->hookActionOrderStatusPostUpdate(['newOrderStatus' => $state, 'id_order' => $idOrder]);
    }

    public function testAListedStateQueuesTheSnapshot(): void
    {
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertTrue($this->fire($hook, '10', self::SHIPPED));
        $row = $this->rowOf(10);
        $this->assertSame(ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS, $row['action']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertEquals([
            'id_internal_shoppingfeed' => 9010,
            'reference' => 'AMZ-10',
            'marketplace' => 'Amazon',
            'id_order_state' => 4,
            'carrier' => 'Colissimo',
            'tracking_number' => '6A123',
            'tracking_url' => 'https://www.laposte.fr/outils/suivre-vos-envois?code=6A123',
        ], $row['payload'], "the snapshot, '@' of the carrier URL replaced by the tracking number");
        $this->assertSame([], Sandbox::apiRequests(), 'batch mode: only queued');
        $this->assertSame($row['id_shoppingfeed_order'], $hook->getLastConveyor()['id_shoppingfeed_order']);
        $this->assertArrayNotHasKey('token', $hook->getLastConveyor());
    }

    public function testLegacyIdentifierAndNoTrackingNumber(): void
    {
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertTrue($this->fire($hook, 11, self::CANCELLED));
        $payload = $this->rowOf(11)['payload'];
        $this->assertArrayNotHasKey('id_internal_shoppingfeed', $payload);
        $this->assertSame('CD-11', $payload['reference']);
        $this->assertSame('Cdiscount', $payload['marketplace']);
        $this->assertSame('', $payload['tracking_url'], 'no tracking number: no tracking URL');
    }

    public function testStatesInNoListAreNotQueued(): void
    {
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertFalse($this->fire($hook, 10, self::UNLISTED));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(10));
        $this->assertTrue($this->fire($hook, 10, 14), 'the second id of the shipped list');
        $this->assertTrue($this->fire($hook, 11, 7), 'ids given as strings in the JSON list');
    }

    public function testOrdersNotFromShoppingFeedAreIgnored(): void
    {
        $provider = $this->provider();
        $hook = new ShoppingfeedOrderSyncHook($provider);
        $this->assertFalse($this->fire($hook, 99, self::SHIPPED));
        $this->assertSame([99], $provider->asked);
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(99));
    }

    public function testDisabledSyncQueuesNothing(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED', '0', false, null, 2);
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertFalse($this->fire($hook, 12, self::SHIPPED), 'disabled for shop 2');
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(12));
        $this->assertTrue($this->fire($hook, 10, self::SHIPPED), 'still enabled for shop 1');
    }

    public function testRealTimeSendsFromTheHookWithTheShopsCredentials(): void
    {
        Configuration::updateValue('SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION', '1');
        Configuration::updateValue('SHOPPINGFEED_AUTH_TOKEN', self::TOKEN, false, null, 2);
        Configuration::updateValue('SHOPPINGFEED_STORE_ID', '42', false, null, 2);
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertTrue($this->fire($hook, 12, self::SHIPPED));
        $row = $this->rowOf(12);
        $this->assertSame(2, $row['id_shop']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $row['state']);
        $posts = Sandbox::orderPosts(202);
        $this->assertCount(1, $posts);
        $this->assertEquals([['id' => 9012, 'carrier' => 'UPS', 'trackingNumber' => '1Z999', 'trackingLink' => '']], $posts[0]['elements']);
        $this->assertNotEmpty(array_filter(Configuration::readsOf('SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION'), static function ($r) {
            return (int) $r['id_shop'] === 2;
        }), "the extension read the order's shop's settings");
    }

    public function testRealTimeWithoutCredentialsOnlyQueues(): void
    {
        Configuration::updateValue('SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION', '1');
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertTrue($this->fire($hook, 10, self::CANCELLED));
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(10)['state']);
        $this->assertSame([], Sandbox::apiRequests());
    }

    public function testRealTimeWithTheApiDownStillSucceedsForTheMerchant(): void
    {
        Configuration::updateValue('SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION', '1');
        Configuration::updateValue('SHOPPINGFEED_AUTH_TOKEN', self::TOKEN);
        Configuration::updateValue('SHOPPINGFEED_STORE_ID', '42');
        Sandbox::faults([['kind' => 'status', 'status' => 503, 'count' => 5]]);
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertTrue($this->fire($hook, 10, self::CANCELLED));
        $row = $this->rowOf(10);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(1, $row['attempts']);
    }

    public function testConfigurationErrorsAreLoggedNotThrown(): void
    {
        Configuration::updateValue('SHOPPINGFEED_SHIPPED_ORDERS', '[4');
        Configuration::updateValue('SHOPPINGFEED_AUTH_TOKEN', self::TOKEN);
        Configuration::updateValue('SHOPPINGFEED_STORE_ID', '42');
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertFalse($this->fire($hook, 10, self::SHIPPED), 'no exception into the merchant\'s request');
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(10));
        $this->assertCount(1, PrestaShopLogger::$logs);
        $log = PrestaShopLogger::$logs[0];
        $this->assertStringContainsString('SHOPPINGFEED_SHIPPED_ORDERS', $log['message'], 'the log names the setting');
        $this->assertSame(3, $log['severity']);
        $this->assertSame(10, $log['object_id']);
        $this->assertStringNotContainsString(self::TOKEN, PrestaShopLogger::text());
        $this->assertNoStoreSecret(PrestaShopLogger::text(), 'the log');
    }

    public function testBadSnapshotDataIsLoggedNotThrown(): void
    {
        $hook = new ShoppingfeedOrderSyncHook(new ArrayOrderDataProvider([
            20 => ['id_shop' => 1, 'id_internal_shoppingfeed' => null, 'reference' => null, 'marketplace' => 'Amazon'],
        ]));
        $this->assertFalse($this->fire($hook, 20, self::CANCELLED));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(20));
        $this->assertStringContainsString('order 20', PrestaShopLogger::text());
    }

    public function testMalformedHookParametersAreIgnored(): void
    {
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertFalse($hook->hookActionOrderStatusPostUpdate(['id_order' => 10]));
        $this->assertFalse($hook->hookActionOrderStatusPostUpdate(['newOrderStatus' => null, 'id_order' => 10]));
        $this->assertFalse($hook->hookActionOrderStatusPostUpdate(['newOrderStatus' => (object) ['id' => 4], 'id_order' => 'x']));
        $this->assertFalse($hook->hookActionOrderStatusPostUpdate('not an array'));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find(10));
    }

    public function testTheLatestStatusWinsThroughTheHook(): void
    {
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $this->assertTrue($this->fire($hook, 10, self::SHIPPED));
        $this->assertTrue($this->fire($hook, 10, self::DELIVERED));
        $row = $this->rowOf(10);
        $this->assertSame(self::DELIVERED, (int) $row['payload']['id_order_state']);
    }

    public function testBuildSnapshotKeepsOptionalFields(): void
    {
        $hook = new ShoppingfeedOrderSyncHook($this->provider());
        $refund = ['shipping' => true, 'products' => [['reference' => 'SKU', 'quantity' => 1]]];
        $snapshot = $hook->buildSnapshot(['id_internal_shoppingfeed' => '55', 'reason' => 'Damaged', 'refund' => $refund, 'tracking_number' => ' X1 ', 'carrier_url' => 'https://t/@/x'], 7);
        $this->assertSame(55, $snapshot['id_internal_shoppingfeed']);
        $this->assertSame(7, $snapshot['id_order_state']);
        $this->assertSame('Damaged', $snapshot['reason']);
        $this->assertSame($refund, $snapshot['refund']);
        $this->assertSame('X1', $snapshot['tracking_number']);
        $this->assertSame('https://t/X1/x', $snapshot['tracking_url']);
    }
}
