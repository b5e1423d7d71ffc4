<?php
/** Stand-in for PrestaShop's OrderInvoice (table order_invoice). */
class OrderInvoice extends ObjectModel
{
    public $id_order;
    public $number;
    public $delivery_number;
    public $delivery_date;
    public $total_paid_tax_excl;
    public $total_paid_tax_incl;
    public $total_products;
    public $total_products_wt;
    public $total_shipping_tax_excl;
    public $total_shipping_tax_incl;
    public $note;
    public $date_add;
    public static $definition = ['table' => 'order_invoice', 'primary' => 'id_order_invoice', 'fields' => [
        'id_order' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'number' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'delivery_number' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'delivery_date' => ['type' => self::TYPE_DATE, 'allow_null' => true],
        'total_paid_tax_excl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_paid_tax_incl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_products' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_products_wt' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_shipping_tax_excl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_shipping_tax_incl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'note' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'date_add' => ['type' => self::TYPE_DATE, 'allow_null' => true],
    ]];
}
