<?php
/** Stand-in for PrestaShop's Order (table orders, PrestaShop 8 columns the module reads). */
class Order extends ObjectModel
{
    public $reference;
    public $id_shop_group;
    public $id_shop;
    public $id_carrier;
    public $id_lang;
    public $id_customer;
    public $id_cart;
    public $id_currency;
    public $id_address_delivery;
    public $id_address_invoice;
    public $current_state;
    public $secure_key;
    public $payment;
    public $module;
    public $shipping_number;
    public $total_paid;
    public $total_paid_tax_incl;
    public $total_paid_tax_excl;
    public $total_paid_real;
    public $total_products;
    public $total_products_wt;
    public $total_shipping;
    public $total_shipping_tax_incl;
    public $total_shipping_tax_excl;
    public $invoice_number;
    public $invoice_date;
    public $valid;
    public $date_add;
    public $date_upd;
    public static $definition = ['table' => 'orders', 'primary' => 'id_order', 'fields' => [
        'reference' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'id_shop_group' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_shop' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_carrier' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_lang' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_customer' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_cart' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_currency' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_address_delivery' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_address_invoice' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'current_state' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'secure_key' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'payment' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'module' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'shipping_number' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'total_paid' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_paid_tax_incl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_paid_tax_excl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_paid_real' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_products' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_products_wt' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_shipping' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_shipping_tax_incl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_shipping_tax_excl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'invoice_number' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'invoice_date' => ['type' => self::TYPE_DATE, 'allow_null' => true],
        'valid' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'date_add' => ['type' => self::TYPE_DATE, 'allow_null' => true],
        'date_upd' => ['type' => self::TYPE_DATE, 'allow_null' => true],
    ]];

    /** PrestaShop's Order::getCurrentState(): the id of the current state. */
    public function getCurrentState()
    {
        return (int) $this->current_state;
    }

    /** PrestaShop's Order::getIdOrderCarrier(): the order's latest order_carrier row id. */
    public function getIdOrderCarrier()
    {
        return (int) Db::getInstance()->getValue('SELECT id_order_carrier FROM ' . _DB_PREFIX_
            . 'order_carrier WHERE id_order = ' . (int) $this->id . ' ORDER BY id_order_carrier DESC');
    }

    /** PrestaShop's Order::getProducts() (rows of order_detail, keyed by id_order_detail). */
    public function getProducts()
    {
        $out = [];
        foreach (Db::getInstance()->executeS('SELECT * FROM ' . _DB_PREFIX_ . 'order_detail WHERE id_order = ' . (int) $this->id) as $r) {
            $out[$r['id_order_detail']] = $r;
        }

        return $out;
    }

    /** OrderInvoice objects of the order (PrestaShop: getInvoicesCollection()). */
    public function getInvoicesCollection()
    {
        return array_map(function ($r) { return new OrderInvoice($r['id_order_invoice']); },
            Db::getInstance()->executeS('SELECT id_order_invoice FROM ' . _DB_PREFIX_ . 'order_invoice WHERE id_order = ' . (int) $this->id));
    }

    /** OrderSlip rows of the order (PrestaShop: getOrderSlipsCollection()). */
    public function getOrderSlipsCollection()
    {
        return array_map(function ($r) { return new OrderSlip($r['id_order_slip']); },
            Db::getInstance()->executeS('SELECT id_order_slip FROM ' . _DB_PREFIX_ . 'order_slip WHERE id_order = ' . (int) $this->id));
    }
}
