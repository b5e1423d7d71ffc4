<?php
/**
 * Stand-in for PrestaShop's Shop (table shop): the constructor loads a row;
 * getShops($active, $idShopGroup, $getAsListId) lists them (rows keyed by
 * id_shop, or a list of ids); setContext()/getContextShopID() keep the
 * context shop (CONTEXT_SHOP, CONTEXT_GROUP, CONTEXT_ALL);
 * isFeatureActive() is true when there is more than one shop.
 */
class Shop extends ObjectModel
{
    const CONTEXT_SHOP = 1;
    const CONTEXT_GROUP = 2;
    const CONTEXT_ALL = 4;

    public $id_shop_group;
    public $name;
    public $active;
    public $deleted;
    public static $definition = ['table' => 'shop', 'primary' => 'id_shop', 'fields' => [
        'id_shop_group' => ['type' => self::TYPE_INT, 'allow_null' => true],
        'name' => ['type' => self::TYPE_STRING, 'allow_null' => true],
        'active' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
        'deleted' => ['type' => self::TYPE_BOOL, 'allow_null' => true],
    ]];

    private static $context = self::CONTEXT_ALL;
    private static $contextShopId;

    public function __construct($id = null, $idLang = null, $idShop = null)
    {
        $this->id = $id ? (int) $id : null;
        try {
            parent::__construct($id);
        } catch (Throwable $e) {
            // no database yet (Context built early): keep the bare id
        }
        if ($id && !$this->id) {
            $this->id = null;
        }
    }

    public static function getShops($active = true, $idShopGroup = null, $getAsListId = false)
    {
        $rows = Db::getInstance()->executeS('SELECT * FROM ' . _DB_PREFIX_ . 'shop WHERE deleted = 0'
            . ($active ? ' AND active = 1' : '') . ($idShopGroup ? ' AND id_shop_group = ' . (int) $idShopGroup : '')
            . ' ORDER BY id_shop');
        $out = [];
        foreach ($rows as $row) {
            $out[(int) $row['id_shop']] = $getAsListId ? (int) $row['id_shop'] : $row;
        }

        return $out;
    }

    public static function setContext($type, $id = null)
    {
        self::$context = (int) $type;
        self::$contextShopId = $type === self::CONTEXT_SHOP ? (int) $id : null;
    }

    public static function getContext()
    {
        return self::$context;
    }

    public static function getContextShopID($nullIfNotFound = false)
    {
        if (self::$context === self::CONTEXT_SHOP) {
            return self::$contextShopId;
        }

        return $nullIfNotFound ? null : ((int) Configuration::get('PS_SHOP_DEFAULT') ?: 1);
    }

    public static function isFeatureActive()
    {
        return (int) Db::getInstance()->getValue('SELECT COUNT(*) FROM ' . _DB_PREFIX_ . 'shop') > 1;
    }
}
