<?php
/**
 * The module's syncAll cron, running our syncOrder override instead of the
 * module's syncOrder controller.
 *
 * Why: syncAll builds `new ShoppingfeedSyncOrderModuleFrontController()`
 * itself in its constructor (not through the Dispatcher, so PrestaShop's
 * controller override is not used) and runs its processCron by reflection;
 * left alone it would run the module's order sync, which dies beside the
 * extension (see syncOrder.php here). Everything else (locks, the product
 * sync, the order import) stays the module's.
 */

if (!defined('_PS_VERSION_')) {
    exit;
}

require_once _PS_MODULE_DIR_ . 'shoppingfeed/controllers/front/syncOrder.php';
require_once __DIR__ . '/syncOrder.php';

class ShoppingfeedSyncAllModuleFrontControllerOverride extends ShoppingfeedSyncAllModuleFrontController
{
    public function __construct()
    {
        parent::__construct();

        $this->syncOrderCron = new ShoppingfeedSyncOrderModuleFrontControllerOverride();
    }
}
