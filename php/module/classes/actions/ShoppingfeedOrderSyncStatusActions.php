<?php
/**
 * ShoppingfeedOrderSyncStatusActions
 *
 * classlib's ActionsHandler include_once's this file when it resolves
 * process('ShoppingfeedOrderSyncStatus'). The class itself is declared by
 * the native PHP extension "shoppingfeed_sync" (Rust); this file only makes
 * sure the extension is there and says so clearly when it is not.
 *
 * A merchant's override (override/modules/shoppingfeed/classes/actions/
 * ShoppingfeedOrderSyncStatusActions.php) declares
 * ShoppingfeedOrderSyncStatusActionsOverride extends ShoppingfeedOrderSyncStatusActions:
 * the extension calls the chain's methods through PHP, so overrides are honoured.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

if (!extension_loaded('shoppingfeed_sync') || !class_exists('ShoppingfeedOrderSyncStatusActions', false)) {
    $shoppingfeedSyncMessage = 'Shopping Feed order synchronization: the PHP extension "shoppingfeed_sync" is not loaded'
        . ' in this PHP (' . PHP_SAPI . ' ' . PHP_VERSION . '), so ShoppingfeedOrderSyncStatusActions does not exist.'
        . ' Install libshoppingfeed_sync.so and add "extension=/path/to/libshoppingfeed_sync.so" to the php.ini'
        . ' of both PHP-FPM and the CLI, then restart PHP-FPM.';
    if (class_exists('PrestaShopLogger')) {
        PrestaShopLogger::addLog($shoppingfeedSyncMessage, 3, null, 'Shoppingfeed', null, true);
    } else {
        error_log($shoppingfeedSyncMessage);
    }
    throw new RuntimeException($shoppingfeedSyncMessage);
}
