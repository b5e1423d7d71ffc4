<?php
/**
 * The PrestaShop implementation of ShoppingfeedOrderDataProvider: reads
 * Order, OrderCarrier, Carrier and the table in which the Shopping Feed
 * module keeps the marketplace data of the orders it imported.
 *
 * Not exercised by the PHPUnit suite (no PrestaShop there); the hook's tests
 * use an array-backed provider.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

require_once __DIR__ . '/ShoppingfeedOrderDataProvider.php';

class ShoppingfeedPrestaShopOrderDataProvider implements ShoppingfeedOrderDataProvider
{
    /** @var string table (without prefix) mapping PrestaShop orders to Shopping Feed orders */
    private $table;

    /**
     * @param string $table the module's table of imported orders, columns
     *                      id_order, id_internal_shoppingfeed, id_order_marketplace, name_marketplace
     */
    public function __construct(string $table = 'shoppingfeed_order')
    {
        $this->table = $table;
    }

    public function getOrderData(int $idOrder): ?array
    {
        if ($idOrder <= 0) {
            return null;
        }
        $sfOrder = Db::getInstance()->getRow(
            'SELECT `id_internal_shoppingfeed`, `id_order_marketplace`, `name_marketplace`'
            . ' FROM `' . _DB_PREFIX_ . bqSQL($this->table) . '`'
            . ' WHERE `id_order` = ' . (int) $idOrder
        );
        if (!$sfOrder) {
            return null;
        }
        $order = new Order($idOrder);
        if (!Validate::isLoadedObject($order)) {
            return null;
        }

        $carrierName = null;
        $carrierUrl = null;
        $trackingNumber = null;
        $carrier = new Carrier((int) $order->id_carrier);
        if (Validate::isLoadedObject($carrier)) {
            $carrierName = (string) $carrier->name;
            $carrierUrl = (string) $carrier->url;
        }
        $idOrderCarrier = (int) $order->getIdOrderCarrier();
        if ($idOrderCarrier > 0) {
            $orderCarrier = new OrderCarrier($idOrderCarrier);
            $trackingNumber = (string) $orderCarrier->tracking_number;
        }
        if (($trackingNumber === null || $trackingNumber === '') && !empty($order->shipping_number)) {
            $trackingNumber = (string) $order->shipping_number;
        }

        return [
            'id_shop' => (int) $order->id_shop,
            'id_internal_shoppingfeed' => (int) $sfOrder['id_internal_shoppingfeed'] > 0 ? (int) $sfOrder['id_internal_shoppingfeed'] : null,
            // Both columns allow NULL: NULL and '' are "not known" alike.
            'reference' => (string) $sfOrder['id_order_marketplace'] !== '' ? (string) $sfOrder['id_order_marketplace'] : null,
            'marketplace' => (string) $sfOrder['name_marketplace'] !== '' ? (string) $sfOrder['name_marketplace'] : null,
            'carrier' => $carrierName,
            'tracking_number' => $trackingNumber,
            'carrier_url' => $carrierUrl,
        ];
    }
}
