<?php
/**
 * ShoppingfeedOrderSyncRefundActions: partial refunds, one credit slip per update (SYNC_REFUND).
 *
 * classlib's ActionsHandler include_once's this file when it resolves
 * process('ShoppingfeedOrderSyncRefund'). The class itself is declared by
 * the native PHP extension "shoppingfeed_sync" (Rust); this file only makes
 * sure the extension is there and says so clearly when it is not.
 *
 * A merchant's override (override/modules/shoppingfeed/classes/actions/
 * ShoppingfeedOrderSyncRefundActions.php) declares
 * ShoppingfeedOrderSyncRefundActionsOverride extends ShoppingfeedOrderSyncRefundActions:
 * the extension calls the chain's methods through PHP, so overrides are honoured.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

require_once dirname(__DIR__) . '/ShoppingfeedOrderSyncExtensionCheck.php';
shoppingfeed_order_sync_require_class('ShoppingfeedOrderSyncRefundActions');
