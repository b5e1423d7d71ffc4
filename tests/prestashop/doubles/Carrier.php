<?php
/** Stand-in for PrestaShop's Carrier (name, url with '@' where the tracking number goes). */
class Carrier extends ObjectModel
{
    public $id_reference;
    public $name;
    public $url;
    public $active;
    public $deleted;
    public $is_module;
    public $external_module_name;
    public static $definition = ['table' => 'carrier', 'primary' => 'id_carrier', 'fields' => [
        'id_reference' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'name' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'url' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'active' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'deleted' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'is_module' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'external_module_name' => ['type' => self::TYPE_STRING, 'allow_null' => true],
    ]];
}
