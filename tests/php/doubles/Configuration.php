<?php
/**
 * Test double of PrestaShop's Configuration (see shared/docs/prestashop-integration.md).
 *
 * Values are stored as PrestaShop stores them: strings. get() returns the
 * shop's value, else the global one, else false ("not set"), exactly the way
 * the extension must read them: Configuration::get($name, null, null, $idShop).
 * Every read is recorded so tests can check which shop a setting was read for.
 */
class Configuration
{
    /** @var array<string, array<string, string>> key => scope ('global' or 'shop:ID') => value */
    private static $values = [];
    /** @var list<array{key: string, id_lang: mixed, id_shop_group: mixed, id_shop: mixed}> */
    public static $reads = [];

    public static function reset(): void
    {
        self::$values = [];
        self::$reads = [];
    }

    /**
     * @return string|false
     */
    public static function get($key, $idLang = null, $idShopGroup = null, $idShop = null, $default = false)
    {
        self::$reads[] = ['key' => $key, 'id_lang' => $idLang, 'id_shop_group' => $idShopGroup, 'id_shop' => $idShop];
        if (!isset(self::$values[$key])) {
            return $default;
        }
        $scopes = self::$values[$key];
        if ($idShop !== null && array_key_exists('shop:' . (int) $idShop, $scopes)) {
            return $scopes['shop:' . (int) $idShop];
        }
        if (array_key_exists('global', $scopes)) {
            return $scopes['global'];
        }

        return $default;
    }

    public static function hasKey($key, $idLang = null, $idShopGroup = null, $idShop = null): bool
    {
        return isset(self::$values[$key]) && (
            array_key_exists('global', self::$values[$key])
            || ($idShop !== null && array_key_exists('shop:' . (int) $idShop, self::$values[$key]))
        );
    }

    /**
     * Like PrestaShop: stores strings (bools become '1' / '0' / '', arrays are refused).
     */
    public static function updateValue($key, $values, $html = false, $idShopGroup = null, $idShop = null): bool
    {
        if (is_array($values) || is_object($values)) {
            throw new InvalidArgumentException('Configuration::updateValue() takes a scalar in this double');
        }
        if (is_bool($values)) {
            $values = $values ? '1' : '0';
        }
        $scope = $idShop === null ? 'global' : 'shop:' . (int) $idShop;
        self::$values[$key][$scope] = (string) $values;

        return true;
    }

    public static function updateGlobalValue($key, $values, $html = false): bool
    {
        return self::updateValue($key, $values, $html);
    }

    public static function deleteByName($key): bool
    {
        unset(self::$values[$key]);

        return true;
    }

    /** Reads recorded for one key (for assertions). */
    public static function readsOf(string $key): array
    {
        return array_values(array_filter(self::$reads, static function (array $r) use ($key) {
            return $r['key'] === $key;
        }));
    }
}
