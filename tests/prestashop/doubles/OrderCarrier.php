<?php
/** Stand-in for PrestaShop's OrderCarrier; update() fires actionObjectOrderCarrierUpdateAfter with ['object' => $this], as ObjectModel::update() does for every class. */
class OrderCarrier extends ObjectModel
{
    public $id_order;
    public $id_carrier;
    public $id_order_invoice;
    public $weight;
    public $shipping_cost_tax_excl;
    public $shipping_cost_tax_incl;
    public $tracking_number;
    public $date_add;
    public static $definition = ['table' => 'order_carrier', 'primary' => 'id_order_carrier', 'fields' => [
        'id_order' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_carrier' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'id_order_invoice' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'weight' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'shipping_cost_tax_excl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'shipping_cost_tax_incl' => ['type' => self::TYPE_FLOAT, 'allow_null' => true],
        'tracking_number' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'date_add' => ['type' => self::TYPE_DATE, 'allow_null' => true],
    ]];

    public function update($nullValues = false)
    {
        Hook::exec('actionObjectOrderCarrierUpdateBefore', ['object' => $this]);
        $r = parent::update($nullValues);
        Hook::exec('actionObjectOrderCarrierUpdateAfter', ['object' => $this]);

        return $r;
    }
}
