<?php
/**
 * Stand-in for PrestaShop's Configuration, reading and writing the
 * `configuration` table. get(): the shop's row, else its shop group's row,
 * else the global row (both ids NULL), else false; values are strings.
 * updateValue() writes at the level given (shop, group, or global).
 * set() changes the value for this process only (PrestaShop: the in-memory
 * cache), get() sees it first; clearMemory() forgets those values.
 */
class Configuration
{
    /** @var array<string, array<string, string>> key => (shop id or 'global') => value, set() of this process */
    private static $memory = [];

    public static function set($key, $values, $idShopGroup = null, $idShop = null)
    {
        self::$memory[$key][$idShop ? (string) (int) $idShop : 'global'] = is_array($values) ? (string) reset($values) : (string) $values;
    }

    public static function clearMemory()
    {
        self::$memory = [];
    }

    public static function getGlobalValue($key, $idLang = null)
    {
        return self::get($key);
    }

    public static function hasKey($key, $idLang = null, $idShopGroup = null, $idShop = null)
    {
        return self::get($key, $idLang, $idShopGroup, $idShop, null) !== null;
    }

    public static function get($key, $idLang = null, $idShopGroup = null, $idShop = null, $default = false)
    {
        if (isset(self::$memory[$key])) {
            if ($idShop && isset(self::$memory[$key][(string) (int) $idShop])) {
                return self::$memory[$key][(string) (int) $idShop];
            }
            if (isset(self::$memory[$key]['global'])) {
                return self::$memory[$key]['global'];
            }
        }
        $db = Db::getInstance();
        $name = "name = '" . $db->escape($key) . "'";
        if ($idShop) {
            $v = $db->getValue('SELECT value FROM ' . _DB_PREFIX_ . "configuration WHERE $name AND id_shop = " . (int) $idShop);
            if ($v !== false) {
                return (string) $v;
            }
            if (!$idShopGroup) {
                $idShopGroup = $db->getValue('SELECT id_shop_group FROM ' . _DB_PREFIX_ . 'shop WHERE id_shop = ' . (int) $idShop);
            }
        }
        if ($idShopGroup) {
            $v = $db->getValue('SELECT value FROM ' . _DB_PREFIX_ . "configuration WHERE $name AND id_shop IS NULL AND id_shop_group = " . (int) $idShopGroup);
            if ($v !== false) {
                return (string) $v;
            }
        }
        $v = $db->getValue('SELECT value FROM ' . _DB_PREFIX_ . "configuration WHERE $name AND id_shop IS NULL AND id_shop_group IS NULL");

        return $v === false ? $default : (string) $v;
    }

    public static function updateValue($key, $value, $html = false, $idShopGroup = null, $idShop = null)
    {
        unset(self::$memory[$key]);
        $db = Db::getInstance();
        if ($idShop && !$idShopGroup) {
            $idShopGroup = (int) $db->getValue('SELECT id_shop_group FROM ' . _DB_PREFIX_ . 'shop WHERE id_shop = ' . (int) $idShop);
        }
        $where = "name = '" . $db->escape($key) . "' AND "
            . ($idShop ? 'id_shop = ' . (int) $idShop : 'id_shop IS NULL') . ' AND '
            . ($idShopGroup ? 'id_shop_group = ' . (int) $idShopGroup : 'id_shop_group IS NULL');
        $now = date('Y-m-d H:i:s');
        if ($db->getValue('SELECT id_configuration FROM ' . _DB_PREFIX_ . "configuration WHERE $where")) {
            return $db->update('configuration', ['value' => (string) $value, 'date_upd' => $now], $where);
        }

        return $db->insert('configuration', ['name' => $key, 'value' => (string) $value,
            'id_shop_group' => $idShopGroup ?: null, 'id_shop' => $idShop ?: null, 'date_add' => $now, 'date_upd' => $now]);
    }

    public static function updateGlobalValue($key, $value, $html = false)
    {
        return self::updateValue($key, $value, $html, 0, 0);
    }

    public static function deleteByName($key)
    {
        unset(self::$memory[$key]);
        return Db::getInstance()->delete('configuration', "name = '" . Db::getInstance()->escape($key) . "'");
    }
}
