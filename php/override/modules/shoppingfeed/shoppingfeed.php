<?php
/**
 * The Shopping Feed module's main class, with its order sync taken over by
 * the shoppingfeed_sync extension (PrestaShop's module override: placed at
 * override/modules/shoppingfeed/shoppingfeed.php, loaded instead of the
 * module's class by Module::getInstanceByName()).
 *
 * Why: the module's addOrderTask() runs process('shoppingfeedOrderSync'),
 * which include_once's the module's classes/actions/ShoppingfeedOrderSyncActions.php;
 * with the extension loaded that file declares a class the extension
 * already declares: a fatal error in the merchant's request (a state
 * change, a credit slip), which no try catches.
 *
 * With the extension loaded (ShoppingfeedOrderSyncTakeover::isAvailable()),
 * the module's order-sync entry points (addOrderTask() and the hooks
 * actionOrderStatusPostUpdate and actionOrderSlipAdd) go to the extension's
 * queue through ShoppingfeedOrderSyncTakeover; without it, to the module's
 * own code (parent::), which works without the extension. The tracking
 * hooks (registered by the installer) re-save a shipped update that waits
 * for its tracking number; without the extension they do nothing.
 *
 * Nothing here may raise a PHP error in a merchant's request: every call of
 * ours is wrapped, and failures are logged.
 */

if (!defined('_PS_VERSION_')) {
    exit;
}

class ShoppingfeedOverride extends Shoppingfeed
{
    /** @var ShoppingfeedOrderSyncTakeover|null|false false: our files are missing */
    private $orderSyncTakeover;

    /**
     * The module's task for an order, to the extension's queue:
     * SYNC_STATUS with the order's current state, UPLOAD_INVOICE with each
     * invoice of the order, PARTIAL_REFUND with its latest credit slip.
     */
    protected function addOrderTask($id_order, $action)
    {
        $takeover = $this->orderSyncTakeover();
        if ($takeover === null) {
            return parent::addOrderTask($id_order, $action);
        }
        try {
            $idOrder = (int) $id_order;
            switch ((string) $action) {
                case 'SYNC_STATUS':
                case 'CHECK_TICKET_SYNC_STATUS':
                    $takeover->queueStatus($idOrder);
                    break;
                case 'UPLOAD_INVOICE':
                case 'CHECK_TICKET_UPLOAD_INVOICE':
                    $takeover->queueInvoices($idOrder);
                    break;
                case 'PARTIAL_REFUND':
                case 'ACTION_CHECK_TICKET_PARTIAL_REFUND':
                case 'CHECK_TICKET_PARTIAL_REFUND':
                    $idSlip = (int) Db::getInstance()->getValue('SELECT MAX(`id_order_slip`) FROM `' . _DB_PREFIX_
                        . 'order_slip` WHERE `id_order` = ' . $idOrder);
                    if ($idSlip > 0) {
                        $takeover->queueCreditSlip($idOrder, $idSlip);
                    }
                    break;
                default:
                    self::logOrderSync('unknown order task ' . (string) $action . ' not queued', $idOrder);
            }
        } catch (Throwable $e) {
            self::logOrderSync('order task not queued: ' . get_class($e) . ': ' . $e->getMessage(), (int) $id_order);
        }
        self::closeProcessLogger();
    }

    public function hookActionOrderStatusPostUpdate($params)
    {
        $takeover = $this->orderSyncTakeover();
        if ($takeover === null) {
            return parent::hookActionOrderStatusPostUpdate($params);
        }
        try {
            $idOrder = is_array($params) && isset($params['id_order']) ? (int) $params['id_order'] : 0;
            $state = is_array($params) && isset($params['newOrderStatus']) ? $params['newOrderStatus'] : null;
            $idState = is_object($state) && isset($state->id) ? (int) $state->id : (is_numeric($state) ? (int) $state : 0);
            if ($idOrder <= 0 || $idState <= 0) {
                return;
            }
            // The switches (the module's, globally and per shop), the lists and the order's origin: queueStatus().
            $takeover->queueStatus($idOrder, $idState);
            if (is_object($state) && !empty($state->invoice) && $this->isUploadOrderDocumentReady()) {
                $marketplace = (string) Db::getInstance()->getValue('SELECT `name_marketplace` FROM `' . _DB_PREFIX_
                    . 'shoppingfeed_order` WHERE `id_order` = ' . $idOrder);
                if ($marketplace !== '' && $takeover->isInvoiceSyncEnabled($marketplace)) {
                    $takeover->queueInvoices($idOrder);
                }
            }
        } catch (Throwable $e) {
            self::logOrderSync('state change not queued: ' . get_class($e) . ': ' . $e->getMessage(), isset($idOrder) ? $idOrder : 0);
        }
        self::closeProcessLogger();
    }

    public function hookActionOrderSlipAdd($params)
    {
        $takeover = $this->orderSyncTakeover();
        if ($takeover === null) {
            return parent::hookActionOrderSlipAdd($params);
        }
        $idOrder = 0;
        try {
            $order = is_array($params) && isset($params['order']) ? $params['order'] : null;
            $idOrder = is_object($order) && isset($order->id) ? (int) $order->id : 0;
            if ($idOrder <= 0) {
                return;
            }
            // PrestaShop passes no slip: the one just made is the order's latest.
            $idSlip = (int) Db::getInstance()->getValue('SELECT MAX(`id_order_slip`) FROM `' . _DB_PREFIX_
                . 'order_slip` WHERE `id_order` = ' . $idOrder);
            if ($idSlip > 0) {
                $takeover->queueCreditSlip($idOrder, $idSlip);
            }
        } catch (Throwable $e) {
            self::logOrderSync('credit slip not queued: ' . get_class($e) . ': ' . $e->getMessage(), $idOrder);
        }
        self::closeProcessLogger();
    }

    /** PrestaShop 1.7+/8, back office "Edit shipping": ['order' => Order, 'customer' => ..., 'carrier' => ...]. */
    public function hookActionAdminOrdersTrackingNumberUpdate($params)
    {
        $order = is_array($params) && isset($params['order']) ? $params['order'] : null;
        $this->refreshOrderTracking(is_object($order) && isset($order->id) ? (int) $order->id : 0);
    }

    /** Any OrderCarrier::update() (webservice, carrier modules, scripts): ['object' => OrderCarrier]. */
    public function hookActionObjectOrderCarrierUpdateAfter($params)
    {
        $carrier = is_array($params) && isset($params['object']) ? $params['object'] : null;
        $this->refreshOrderTracking(is_object($carrier) && isset($carrier->id_order) ? (int) $carrier->id_order : 0);
    }

    private function refreshOrderTracking($idOrder)
    {
        if ($idOrder <= 0) {
            return;
        }
        try {
            $takeover = $this->orderSyncTakeover();
            if ($takeover !== null) {
                $takeover->refreshTracking($idOrder);
            }
        } catch (Throwable $e) {
            self::logOrderSync('tracking number not updated in the queue: ' . get_class($e) . ': ' . $e->getMessage(), $idOrder);
        }
    }

    /** The takeover when the extension is loaded and our classes are in place; else null (the module's own sync). */
    private function orderSyncTakeover()
    {
        if ($this->orderSyncTakeover === null) {
            $this->orderSyncTakeover = false;
            try {
                $file = _PS_MODULE_DIR_ . 'shoppingfeed/classes/takeover/ShoppingfeedOrderSyncTakeover.php';
                if (is_file($file)) {
                    require_once $file;
                    if (ShoppingfeedOrderSyncTakeover::isAvailable()) {
                        $this->orderSyncTakeover = new ShoppingfeedOrderSyncTakeover();
                    }
                }
            } catch (Throwable $e) {
                self::logOrderSync('the takeover classes could not be loaded: ' . get_class($e) . ': ' . $e->getMessage(), 0);
            }
        }

        return $this->orderSyncTakeover ?: null;
    }

    /** @return int[] */
    private static function logOrderSync($message, $idOrder)
    {
        try {
            $message = 'Shopping Feed order sync' . ($idOrder > 0 ? ' [Order: ' . (int) $idOrder . ']' : '') . ': ' . $message;
            if (class_exists('PrestaShopLogger')) {
                PrestaShopLogger::addLog($message, 3, null, 'Order', $idOrder > 0 ? (int) $idOrder : null, true);
            } else {
                error_log($message);
            }
        } catch (Throwable $e) {
            error_log($message);
        }
    }

    /** Writes classlib's process log (the module's "Logs" page), as the module's addOrderTask() does. */
    private static function closeProcessLogger()
    {
        try {
            $logger = 'ShoppingfeedClasslib\Extensions\ProcessLogger\ProcessLoggerHandler';
            if (class_exists($logger)) {
                $logger::closeLogger();
            }
        } catch (Throwable $e) {
            error_log('Shopping Feed order sync: the process log could not be written: ' . $e->getMessage());
        }
    }
}
