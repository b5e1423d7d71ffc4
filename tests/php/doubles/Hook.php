<?php
/**
 * Test double of PrestaShop's Hook: only exec(), with callbacks registered by tests.
 * ActionsHandler calls the hook actionShoppingfeedActionsHandler through it.
 */
class Hook
{
    /** @var array<string, list<callable>> */
    private static $callbacks = [];

    public static function reset(): void
    {
        self::$callbacks = [];
    }

    public static function register(string $hookName, callable $callback): void
    {
        self::$callbacks[$hookName][] = $callback;
    }

    /**
     * Like PrestaShop with $array_return = true: one result per module.
     */
    public static function exec($hookName, $hookArgs = [], $idModule = null, $arrayReturn = false)
    {
        $results = [];
        foreach (self::$callbacks[$hookName] ?? [] as $i => $callback) {
            $results['module' . $i] = $callback($hookArgs);
        }

        return $arrayReturn ? $results : implode('', array_filter($results, 'is_string'));
    }
}
