<?php
/**
 * Where the order-status hook gets the data of an order.
 *
 * The hook (ShoppingfeedOrderSyncHook) only needs a few facts about an order
 * to build the snapshot queued by the extension. This small interface keeps
 * PrestaShop's objects out of the hook: the module uses
 * ShoppingfeedPrestaShopOrderDataProvider, tests feed arrays.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

interface ShoppingfeedOrderDataProvider
{
    /**
     * The data of one PrestaShop order, or null when the order did not come
     * from Shopping Feed (nothing to synchronize).
     *
     * Keys:
     * - id_shop (int, required)
     * - id_internal_shoppingfeed (int|null): Shopping Feed's order id, preferred identifier
     * - reference (string|null), marketplace (string|null): the legacy identifier
     * - carrier (string|null): carrier name
     * - tracking_number (string|null)
     * - carrier_url (string|null): the carrier's tracking URL, '@' standing for the number
     * - reason (string|null), refund (array|null): optional, copied into the snapshot
     *
     * @return array<string, mixed>|null
     */
    public function getOrderData(int $idOrder): ?array;
}
