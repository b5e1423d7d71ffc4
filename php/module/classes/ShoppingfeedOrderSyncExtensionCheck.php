<?php
/**
 * The check behind classes/actions/ShoppingfeedOrderSync*Actions.php:
 * classlib's ActionsHandler include_once's those files when it resolves
 * process('ShoppingfeedOrderSync<Field>'); the classes themselves are
 * declared by the native PHP extension "shoppingfeed_sync" (Rust). When the
 * extension (or a version of it with that field's class) is not loaded in
 * this PHP, this says so clearly, in the shop's log and as an exception.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

if (!function_exists('shoppingfeed_order_sync_require_class')) {
    /**
     * @param string $class an Actions class the extension declares
     *
     * @throws RuntimeException when this PHP has no such class
     */
    function shoppingfeed_order_sync_require_class($class)
    {
        if (extension_loaded('shoppingfeed_sync') && class_exists($class, false)) {
            return;
        }
        $message = 'Shopping Feed order synchronization: ' . (extension_loaded('shoppingfeed_sync')
                ? 'the PHP extension "shoppingfeed_sync" loaded in this PHP has no class ' . $class . ': install a version that has it'
                : 'the PHP extension "shoppingfeed_sync" is not loaded in this PHP (' . PHP_SAPI . ' ' . PHP_VERSION . '), so '
                    . $class . ' does not exist. Install libshoppingfeed_sync.so and add "extension=/path/to/libshoppingfeed_sync.so"'
                    . ' to the php.ini of both PHP-FPM and the CLI, then restart PHP-FPM.');
        if (class_exists('PrestaShopLogger')) {
            PrestaShopLogger::addLog($message, 3, null, 'Shoppingfeed', null, true);
        } else {
            error_log($message);
        }
        throw new RuntimeException($message);
    }
}
