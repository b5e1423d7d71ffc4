<?php
/** Stand-in for PrestaShop's OrderState (flags invoice, shipped, paid, delivery...; name from order_state_lang). */
class OrderState extends ObjectModel
{
    public $invoice;
    public $send_email;
    public $module_name;
    public $color;
    public $unremovable;
    public $hidden;
    public $logable;
    public $delivery;
    public $shipped;
    public $paid;
    public $pdf_invoice;
    public $pdf_delivery;
    public $deleted;
    public static $definition = ['table' => 'order_state', 'primary' => 'id_order_state', 'fields' => [
        'invoice' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'send_email' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'module_name' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'color' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'unremovable' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'hidden' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'logable' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'delivery' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'shipped' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'paid' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'pdf_invoice' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'pdf_delivery' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'deleted' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
    ]];

    public $name;

    public function __construct($id = null, $idLang = null, $idShop = null)
    {
        parent::__construct($id);
        if ($this->id) {
            $this->name = Db::getInstance()->getValue('SELECT name FROM ' . _DB_PREFIX_ . 'order_state_lang WHERE id_order_state = '
                . (int) $this->id . ($idLang ? ' AND id_lang = ' . (int) $idLang : ''));
        }
    }
}
