<?php
/**
 * The module's syncOrder cron, with its order sync taken over by the
 * shoppingfeed_sync extension.
 *
 * Why an override: the module's syncOrderStatus() runs its order-sync
 * chains through process('ShoppingfeedOrderSync'), which include_once's the
 * module's own classes/actions/ShoppingfeedOrderSyncActions.php; that file
 * declares a class the extension already declares, a fatal error no try
 * catches. PrestaShop's Dispatcher loads this file after the module's
 * controller and instantiates the ...Override class; syncAll and
 * `cli.php controller=syncOrder` reach it too (see syncAll.php here).
 *
 * Only syncOrderStatus() is overridden: processCron() and the order import
 * (importOrders()) stay the module's. With the extension loaded, per shop
 * of the active tokens where the module allows order sync and sync is
 * enabled: the module's pending shoppingfeed_task_order rows are migrated
 * into the extension's queue (idempotent), the sweep picks up state
 * changes the hook never saw, then ShoppingfeedOrderSyncCron runs the
 * check and send chains of every field, one target per token (its own
 * store: a token never sends another store's orders; a refused token stops
 * only its store). Without the extension: the module's own sync (parent).
 *
 * What happened goes to classlib's ProcessLoggerHandler under the running
 * process, as the module logs; never a token.
 */

if (!defined('_PS_VERSION_')) {
    exit;
}

class ShoppingfeedSyncOrderModuleFrontControllerOverride extends ShoppingfeedSyncOrderModuleFrontController
{
    /** State changes looked at by the sweep per shop and run. */
    const SWEEP_LIMIT = 500;
    /** The process name on the module's "Logs & crons" page when no monitor runs this cron. */
    const LOG_NAME = 'shoppingfeed:syncOrder';

    /** @var array|null the last run's summary (ShoppingfeedOrderSyncCron::run() plus migration and sweeps) */
    public $orderSyncSummary;

    public function syncOrderStatus()
    {
        if (!self::loadTakeover()) {
            return parent::syncOrderStatus();
        }
        $log = new ShoppingfeedOrderSyncRunLog(null, $this->monitor(), self::LOG_NAME);
        $log->open();
        $summary = ['migration' => null, 'sweeps' => [], 'skipped_shops' => []];

        try {
            $migration = new ShoppingfeedOrderSyncTaskOrderMigration();
            $summary['migration'] = $migration->run();
            $log->info('Task orders of the module moved to the extension\'s queue: ' . self::describe($summary['migration']));
        } catch (Throwable $e) {
            $log->error('The migration of the module\'s task orders failed: ' . get_class($e) . ': ' . $e->getMessage());
        }

        $targets = [];
        $sweptShops = [];
        foreach ($this->activeTokens() as $row) {
            $idShop = (int) $row['id_shop'];
            $token = isset($row['content']) ? $row['content'] : (isset($row['token']) ? $row['token'] : null);
            $log->addSecret(is_string($token) ? $token : null);
            if (!Shoppingfeed::isOrderSyncAvailable($idShop)) {
                // The old module (shoppingfluxexport) still syncs this shop's orders.
                $summary['skipped_shops'][$idShop] = 'order sync unavailable (shoppingfluxexport syncs this shop)';
                $log->info(sprintf('[Shop %d] order sync unavailable: the shoppingfluxexport module still synchronizes shipped or cancelled orders', $idShop));
                continue;
            }
            if (!self::isSyncEnabled($idShop)) {
                $summary['skipped_shops'][$idShop] = 'order sync disabled';
                $log->info(sprintf('[Shop %d] order sync is disabled for this shop', $idShop));
                continue;
            }
            if (!isset($sweptShops[$idShop])) {
                $sweptShops[$idShop] = true;
                try {
                    $sweep = new ShoppingfeedOrderSyncSweep();
                    $summary['sweeps'][$idShop] = $sweep->run($idShop, self::SWEEP_LIMIT);
                    $log->info(sprintf('[Shop %d] state changes swept: %s', $idShop, self::describe($summary['sweeps'][$idShop])));
                } catch (Throwable $e) {
                    $log->error(sprintf('[Shop %d] the sweep failed: %s: %s', $idShop, get_class($e), $e->getMessage()));
                }
            }
            $targets[] = [
                'key' => 'token-' . (int) $row['id_shoppingfeed_token'],
                'id_shop' => $idShop,
                'token' => $token,
                'shoppingfeed_store_id' => (int) $row['shoppingfeed_store_id'],
                'id_shoppingfeed_token' => (int) $row['id_shoppingfeed_token'],
            ];
        }

        $cron = new ShoppingfeedOrderSyncCron($log);
        // run() writes the run's summary and closes the logger (processCron closes it again: harmless).
        $summary += $cron->run($targets);
        $this->orderSyncSummary = $summary;

        return $summary;
    }

    /**
     * Loads our classes placed beside the module's by the installer.
     *
     * @return bool whether the extension takes over (loaded, and our files there)
     */
    public static function loadTakeover()
    {
        $dir = _PS_MODULE_DIR_ . 'shoppingfeed/classes/';
        $takeover = $dir . 'takeover/ShoppingfeedOrderSyncTakeover.php';
        if (!is_file($takeover) || !is_file($dir . 'ShoppingfeedOrderSyncCron.php')) {
            return false;
        }
        require_once $takeover;
        if (!ShoppingfeedOrderSyncTakeover::isAvailable()) {
            return false;
        }
        require_once $dir . 'takeover/ShoppingfeedOrderSyncSweep.php';
        require_once $dir . 'takeover/ShoppingfeedOrderSyncTaskOrderMigration.php';
        require_once $dir . 'ShoppingfeedOrderSyncRunLog.php';
        require_once $dir . 'ShoppingfeedOrderSyncCron.php';

        return true;
    }

    /** @return array[] the module's active token rows */
    protected function activeTokens()
    {
        $token = new ShoppingfeedToken();
        $rows = $token->findAllActive();

        return is_array($rows) ? $rows : [];
    }

    /** @return object|null classlib's process monitor of this run, when one runs it */
    private function monitor()
    {
        return isset($this->processMonitor) && is_object($this->processMonitor) ? $this->processMonitor : null;
    }

    private static function isSyncEnabled($idShop)
    {
        if (!method_exists('ShoppingfeedOrderSyncTakeover', 'isSyncEnabled')) {
            return true;
        }
        $method = new ReflectionMethod('ShoppingfeedOrderSyncTakeover', 'isSyncEnabled');
        if ($method->isStatic()) {
            return (bool) ShoppingfeedOrderSyncTakeover::isSyncEnabled($idShop);
        }
        $takeover = new ShoppingfeedOrderSyncTakeover();

        return (bool) $takeover->isSyncEnabled($idShop);
    }

    /** "key N, key N" of a counts array. */
    private static function describe($counts)
    {
        if (!is_array($counts) || !$counts) {
            return 'nothing to do';
        }
        $parts = [];
        foreach ($counts as $key => $value) {
            if (is_scalar($value) || $value === null) {
                $parts[] = $key . ' ' . var_export($value, true);
            }
        }

        return implode(', ', $parts);
    }
}
