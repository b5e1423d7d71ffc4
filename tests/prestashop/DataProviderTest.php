<?php
/**
 * php/module/classes/ShoppingfeedPrestaShopOrderDataProvider.php against
 * PrestaShop's and the module's real tables (schema.sql on MariaDB, the
 * stand-ins of Order, Carrier, OrderCarrier running real SQL): what the
 * hook's snapshot is built from.
 */
require_once dirname(__DIR__, 2) . '/php/module/classes/ShoppingfeedPrestaShopOrderDataProvider.php';

final class DataProviderTest extends PrestashopTestCase
{
    /** @var ShoppingfeedPrestaShopOrderDataProvider */
    private $provider;
    /** @var int */
    private $idToken;

    protected function setUp(): void
    {
        parent::setUp();
        $this->provider = new ShoppingfeedPrestaShopOrderDataProvider();
        $this->idToken = $this->token();
    }

    public function testCarrierNameUrlAndTrackingNumberFromOrderCarrier(): void
    {
        $carrier = $this->carrier('Colissimo', 'https://track.example/?n=@');
        $o = $this->importedOrder($this->idToken, ['id_carrier' => $carrier, 'tracking_number' => '6A123', 'reference' => 'AMZ-1',
            'marketplace' => 'amazon', 'id_internal' => 987654]);

        $this->assertSame([
            'id_shop' => 1,
            'id_internal_shoppingfeed' => 987654,
            'reference' => 'AMZ-1',
            'marketplace' => 'amazon',
            'carrier' => 'Colissimo',
            'tracking_number' => '6A123',
            'carrier_url' => 'https://track.example/?n=@',
        ], $this->provider->getOrderData($o['id_order']));
    }

    public function testTheLatestOrderCarrierRowGivesTheTrackingNumber(): void
    {
        $carrier = $this->carrier();
        $o = $this->importedOrder($this->idToken, ['id_carrier' => $carrier, 'tracking_number' => 'OLD']);
        Db::getInstance()->insert('order_carrier', ['id_order' => $o['id_order'], 'id_carrier' => $carrier,
            'tracking_number' => 'NEW-2', 'date_add' => date('Y-m-d H:i:s')]);

        $this->assertSame('NEW-2', $this->provider->getOrderData($o['id_order'])['tracking_number']);
    }

    public function testTrackingNumberFallsBackToTheOrdersShippingNumber(): void
    {
        $carrier = $this->carrier();
        $o = $this->importedOrder($this->idToken, ['id_carrier' => $carrier, 'tracking_number' => '']);
        Db::getInstance()->update('orders', ['shipping_number' => 'SHIPNUM-7'], 'id_order = ' . $o['id_order']);

        $this->assertSame('SHIPNUM-7', $this->provider->getOrderData($o['id_order'])['tracking_number']);
    }

    public function testNoTrackingNumberAnywhere(): void
    {
        $o = $this->importedOrder($this->idToken, ['id_carrier' => $this->carrier(), 'tracking_number' => '']);

        $this->assertSame('', $this->provider->getOrderData($o['id_order'])['tracking_number'],
            'order_carrier.tracking_number is "" and orders.shipping_number NULL: the provider gives "" (not null)');
    }

    public function testAnOrderWithoutCarrierHasNoCarrierData(): void
    {
        $o = $this->importedOrder($this->idToken, ['id_carrier' => 0, 'tracking_number' => 'T1']);
        $data = $this->provider->getOrderData($o['id_order']);

        $this->assertNull($data['carrier']);
        $this->assertNull($data['carrier_url']);
        $this->assertSame('T1', $data['tracking_number']);
    }

    public function testACarrierWithoutUrl(): void
    {
        $carrier = ShopFixture::carrier('Pickup', '');
        Db::getInstance()->execute('UPDATE ' . _DB_PREFIX_ . 'carrier SET url = NULL WHERE id_carrier = ' . (int) $carrier);
        $o = $this->importedOrder($this->idToken, ['id_carrier' => $carrier]);
        $data = $this->provider->getOrderData($o['id_order']);

        $this->assertSame('Pickup', $data['carrier']);
        $this->assertSame('', $data['carrier_url'], 'carrier.url NULL comes out as "" (no tracking URL)');
    }

    public function testAnOrderTheModuleDidNotImportGivesNull(): void
    {
        $this->assertNull($this->provider->getOrderData($this->plainOrder(['id_carrier' => $this->carrier()])));
    }

    public function testUnknownOrZeroOrderGivesNull(): void
    {
        $this->assertNull($this->provider->getOrderData(0));
        $this->assertNull($this->provider->getOrderData(424242));
    }

    public function testAShoppingfeedOrderRowWithoutItsOrderGivesNull(): void
    {
        $o = $this->importedOrder($this->idToken);
        Db::getInstance()->delete('orders', 'id_order = ' . $o['id_order']);

        $this->assertNull($this->provider->getOrderData($o['id_order']));
    }

    public function testTheOrdersShopIsGiven(): void
    {
        $shop2 = $this->shop('Shop two');
        $o = $this->importedOrder($this->token($shop2, 'token-two', 77), ['id_shop' => $shop2]);

        $this->assertSame($shop2, $this->provider->getOrderData($o['id_order'])['id_shop']);
    }

    public function testWithoutInternalIdTheLegacyPairRemains(): void
    {
        $o = $this->importedOrder($this->idToken, ['reference' => 'CD-55', 'marketplace' => 'cdiscount']);
        Db::getInstance()->execute('UPDATE ' . _DB_PREFIX_ . 'shoppingfeed_order SET id_internal_shoppingfeed = NULL WHERE id_order = ' . $o['id_order']);
        $data = $this->provider->getOrderData($o['id_order']);

        $this->assertNull($data['id_internal_shoppingfeed']);
        $this->assertSame('CD-55', $data['reference']);
        $this->assertSame('cdiscount', $data['marketplace']);
    }

    public function testANullMarketplaceReferenceGivesNull(): void
    {
        $o = $this->importedOrder($this->idToken, ['reference' => 'X']);
        Db::getInstance()->execute('UPDATE ' . _DB_PREFIX_ . 'shoppingfeed_order SET id_order_marketplace = NULL WHERE id_order = ' . $o['id_order']);

        $reference = $this->provider->getOrderData($o['id_order'])['reference'];
        $this->assertNull($reference, 'shoppingfeed_order.id_order_marketplace is NULL (the column allows it)');
    }

    public function testTheModulesTableNameIsUsedWithThePrefix(): void
    {
        $o = $this->importedOrder($this->idToken, ['reference' => 'R-9']);
        Db::getInstance()->execute('CREATE TABLE `' . _DB_PREFIX_ . 'sf_other_orders` LIKE `' . _DB_PREFIX_ . 'shoppingfeed_order`');
        try {
            $this->assertNull((new ShoppingfeedPrestaShopOrderDataProvider('sf_other_orders'))->getOrderData($o['id_order']));
        } finally {
            Db::getInstance()->execute('DROP TABLE `' . _DB_PREFIX_ . 'sf_other_orders`');
        }
    }
}
