<?php
/**
 * Test data for the PrestaShop stand-ins: shops, order states (with their
 * invoice/shipped/paid/delivery flags), carriers, Shopping Feed tokens
 * (shoppingfeed_token.content holds the API token) and orders imported by
 * the module (an orders row, its order_carrier, optional order_detail rows,
 * and the shoppingfeed_order row linking it to its token).
 */
class ShopFixture
{
    public static function shop($name = 'Shop', $idShopGroup = 1)
    {
        Db::getInstance()->insert('shop', ['name' => $name, 'id_shop_group' => (int) $idShopGroup]);

        return Db::getInstance()->Insert_ID();
    }

    /** @param array $flags e.g. ['shipped' => 1, 'invoice' => 1, 'paid' => 1, 'delivery' => 1] */
    public static function orderState($name, array $flags = [])
    {
        $db = Db::getInstance();
        $db->insert('order_state', array_merge(['logable' => 1], $flags));
        $id = $db->Insert_ID();
        $db->insert('order_state_lang', ['id_order_state' => $id, 'id_lang' => 1, 'name' => $name, 'template' => '']);

        return $id;
    }

    public static function carrier($name, $url = '')
    {
        Db::getInstance()->insert('carrier', ['name' => $name, 'url' => $url]);
        $id = Db::getInstance()->Insert_ID();
        Db::getInstance()->update('carrier', ['id_reference' => $id], 'id_carrier = ' . (int) $id);

        return $id;
    }

    public static function token($idShop, $content, $storeId, $active = true, $idLang = 1, $idCurrency = 1)
    {
        $now = date('Y-m-d H:i:s');
        Db::getInstance()->insert('shoppingfeed_token', ['id_shop' => (int) $idShop, 'id_lang' => (int) $idLang,
            'id_currency' => (int) $idCurrency, 'content' => $content, 'active' => $active ? 1 : 0,
            'shoppingfeed_store_id' => (int) $storeId, 'feed_key' => 'fk' . bin2hex(random_bytes(8)),
            'date_add' => $now, 'date_upd' => $now]);

        return Db::getInstance()->Insert_ID();
    }

    /**
     * An order imported by the module. Options: id_shop, id_carrier, state,
     * tracking_number, marketplace, reference (marketplace order id),
     * products (list of ['product_id', 'product_attribute_id', 'product_reference', 'product_quantity']).
     *
     * @return array ['id_order' => ..., 'id_order_carrier' => ..., 'id_shoppingfeed_order' => ..., 'id_order_details' => [...]]
     */
    public static function importedOrder($idToken, array $o = [])
    {
        $db = Db::getInstance();
        $now = date('Y-m-d H:i:s');
        $idShop = (int) ($o['id_shop'] ?? 1);
        $db->insert('orders', ['reference' => strtoupper(substr(bin2hex(random_bytes(5)), 0, 9)), 'id_shop' => $idShop,
            'id_shop_group' => (int) ($db->getValue('SELECT id_shop_group FROM ' . _DB_PREFIX_ . 'shop WHERE id_shop = ' . $idShop) ?: 1),
            'id_carrier' => (int) ($o['id_carrier'] ?? 0), 'current_state' => (int) ($o['state'] ?? 0),
            'payment' => 'Shopping Feed', 'module' => 'sfpayment', 'date_add' => $now, 'date_upd' => $now]);
        $idOrder = $db->Insert_ID();
        $db->insert('order_carrier', ['id_order' => $idOrder, 'id_carrier' => (int) ($o['id_carrier'] ?? 0),
            'tracking_number' => $o['tracking_number'] ?? '', 'date_add' => $now]);
        $idOrderCarrier = $db->Insert_ID();
        $details = [];
        foreach ($o['products'] ?? [] as $p) {
            $db->insert('order_detail', ['id_order' => $idOrder, 'id_shop' => $idShop, 'product_id' => (int) $p['product_id'],
                'product_attribute_id' => (int) ($p['product_attribute_id'] ?? 0), 'product_name' => $p['product_name'] ?? 'Product',
                'product_reference' => $p['product_reference'] ?? '', 'product_quantity' => (int) ($p['product_quantity'] ?? 1)]);
            $details[] = $db->Insert_ID();
        }
        $db->insert('shoppingfeed_order', ['id_internal_shoppingfeed' => (string) ($o['id_internal'] ?? random_int(100000, 999999)),
            'id_order_marketplace' => $o['reference'] ?? 'MP-' . $idOrder, 'name_marketplace' => $o['marketplace'] ?? 'amazon',
            'id_order' => $idOrder, 'payment_method' => 'marketplace', 'id_shoppingfeed_token' => (int) $idToken,
            'date_add' => $now, 'date_upd' => $now]);

        return ['id_order' => $idOrder, 'id_order_carrier' => $idOrderCarrier,
            'id_shoppingfeed_order' => $db->Insert_ID(), 'id_order_details' => $details];
    }
}
