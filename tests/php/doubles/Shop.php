<?php
/**
 * Test double of PrestaShop's Shop: only what the cron controller needs.
 */
class Shop
{
    /** @var array<int, array{id_shop: int, name: string, active: bool}> */
    private static $shops = [];

    public static function reset(): void
    {
        self::setShops([1]);
    }

    /** @param int[] $ids */
    public static function setShops(array $ids, array $inactive = []): void
    {
        self::$shops = [];
        foreach ($ids as $id) {
            self::$shops[(int) $id] = [
                'id_shop' => (int) $id,
                'id_shop_group' => 1,
                'name' => 'Shop ' . $id,
                'active' => !in_array($id, $inactive, true),
            ];
        }
    }

    /**
     * PrestaShop's signature: with $getAsListId, an array id => id.
     */
    public static function getShops($active = true, $idShopGroup = null, $getAsListId = false): array
    {
        $out = [];
        foreach (self::$shops as $id => $shop) {
            if ($active && !$shop['active']) {
                continue;
            }
            $out[$id] = $getAsListId ? $id : $shop;
        }

        return $out;
    }
}
