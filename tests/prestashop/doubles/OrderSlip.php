<?php
/** Stand-in for PrestaShop's OrderSlip. create() writes the slip and its order_slip_detail rows and fires actionOrderSlipAdd with ['order' => Order, 'productList' => ..., 'qtyList' => ...] as PrestaShop's refund does (the module reads $params['order']->id). */
class OrderSlip extends ObjectModel
{
    public $conversion_rate;
    public $id_customer;
    public $id_order;
    public $total_products_tax_excl;
    public $total_products_tax_incl;
    public $total_shipping_tax_excl;
    public $total_shipping_tax_incl;
    public $shipping_cost;
    public $amount;
    public $shipping_cost_amount;
    public $partial;
    public $order_slip_type;
    public $date_add;
    public $date_upd;
    public static $definition = ['table' => 'order_slip', 'primary' => 'id_order_slip', 'fields' => [
        'conversion_rate' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'id_customer' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_order' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'total_products_tax_excl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_products_tax_incl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_shipping_tax_excl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'total_shipping_tax_incl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'shipping_cost' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'amount' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'shipping_cost_amount' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'partial' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'order_slip_type' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'date_add' => ['type' => self::TYPE_DATE, 'allow_null' => true],
        'date_upd' => ['type' => self::TYPE_DATE, 'allow_null' => true],
    ]];

    /**
     * @param array $quantities id_order_detail => quantity refunded
     */
    public static function create(Order $order, array $quantities, $shippingCost = false, $amount = 0.0)
    {
        $slip = new self();
        $slip->id_order = $order->id;
        $slip->id_customer = $order->id_customer;
        $slip->conversion_rate = 1;
        $slip->shipping_cost = $shippingCost ? 1 : 0;
        $slip->amount = $amount;
        $slip->partial = 1;
        $slip->order_slip_type = 0;
        $slip->add();
        $productList = [];
        foreach ($quantities as $idOrderDetail => $qty) {
            Db::getInstance()->insert('order_slip_detail', ['id_order_slip' => $slip->id,
                'id_order_detail' => (int) $idOrderDetail, 'product_quantity' => (int) $qty]);
            $productList[] = (int) $idOrderDetail;
        }
        Hook::exec('actionOrderSlipAdd', ['order' => $order, 'productList' => $productList, 'qtyList' => $quantities]);

        return $slip;
    }

    /** Rows of order_slip_detail joined to order_detail (PrestaShop: getProducts()). */
    public function getProducts()
    {
        return Db::getInstance()->executeS('SELECT osd.*, od.product_id, od.product_attribute_id, od.product_reference FROM '
            . _DB_PREFIX_ . 'order_slip_detail osd JOIN ' . _DB_PREFIX_ . 'order_detail od ON od.id_order_detail = osd.id_order_detail'
            . ' WHERE osd.id_order_slip = ' . (int) $this->id);
    }
}
