<?php
/**
 * Glue between PrestaShop's hook actionOrderStatusPostUpdate and the
 * extension's ShoppingfeedOrderSyncStatusActions::saveOrder.
 *
 * The module's main class delegates to it:
 *
 *     public function hookActionOrderStatusPostUpdate($params)
 *     {
 *         require_once __DIR__ . '/classes/ShoppingfeedOrderSyncHook.php';
 *         $hook = new ShoppingfeedOrderSyncHook(new ShoppingfeedPrestaShopOrderDataProvider());
 *
 *         return $hook->hookActionOrderStatusPostUpdate($params);
 *     }
 *
 * It builds the order snapshot, queues it only when the new state is in one
 * of the four configured state lists (shipped, cancelled, refunded,
 * delivered) and the order-status sync is enabled for the order's shop, and
 * calls saveOrder through classlib's ActionsHandler (so a merchant's override
 * of the Actions class is used). In real-time mode the extension sends the
 * update at once, with a bounded timeout; if Shopping Feed is down the update
 * simply stays queued for the cron.
 *
 * It never throws a ShoppingfeedSyncException into the merchant's request:
 * such errors (a malformed setting, a bad snapshot) are logged and the hook
 * returns false. Programming errors (other exceptions) are not hidden.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

require_once __DIR__ . '/ShoppingfeedOrderDataProvider.php';

class ShoppingfeedOrderSyncHook
{
    const CONFIG_SYNC_ENABLED = 'SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED';
    const CONFIG_TOKEN = 'SHOPPINGFEED_AUTH_TOKEN';
    const CONFIG_STORE_ID = 'SHOPPINGFEED_STORE_ID';
    /** The four state lists (JSON arrays of order state ids). */
    const STATE_LISTS = [
        'SHOPPINGFEED_SHIPPED_ORDERS',
        'SHOPPINGFEED_CANCELLED_ORDERS',
        'SHOPPINGFEED_REFUNDED_ORDERS',
        'SHOPPINGFEED_DELIVERED_ORDERS',
    ];
    /** The classlib Actions name: resolves to ShoppingfeedOrderSyncStatusActions. */
    const ACTIONS_NAME = 'ShoppingfeedOrderSyncStatus';

    /** @var ShoppingfeedOrderDataProvider */
    private $provider;

    /** @var array|null the conveyor of the last saveOrder (without the token), for logging and tests */
    private $lastConveyor;

    public function __construct(ShoppingfeedOrderDataProvider $provider)
    {
        $this->provider = $provider;
    }

    /**
     * @param array $params PrestaShop's hook parameters: 'newOrderStatus' (an OrderState, ->id) and 'id_order'
     *
     * @return bool true when the update was queued (and, in real-time mode, handled)
     */
    public function hookActionOrderStatusPostUpdate($params): bool
    {
        $this->lastConveyor = null;
        if (!is_array($params)) {
            return false;
        }
        $idOrder = isset($params['id_order']) && is_numeric($params['id_order']) ? (int) $params['id_order'] : 0;
        $idOrderState = self::stateId($params['newOrderStatus'] ?? null);
        if ($idOrder <= 0 || $idOrderState <= 0) {
            return false;
        }
        if (!extension_loaded('shoppingfeed_sync')) {
            $this->log('the PHP extension shoppingfeed_sync is not loaded: the new state of order ' . $idOrder . ' is not synchronized', 3, $idOrder);

            return false;
        }

        $data = $this->provider->getOrderData($idOrder);
        if (!is_array($data)) {
            return false; // not a Shopping Feed order
        }
        $idShop = isset($data['id_shop']) ? (int) $data['id_shop'] : 0;
        if ($idShop <= 0) {
            return false;
        }
        if (!Configuration::get(self::CONFIG_SYNC_ENABLED, null, null, $idShop)) {
            return false;
        }
        if ($this->isListedState($idOrderState, $idShop) === false) {
            return false;
        }

        $conveyor = [
            'id_order' => $idOrder,
            'id_shop' => $idShop,
            'order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS,
            'order' => $this->buildSnapshot($data, $idOrderState),
        ];
        $token = Configuration::get(self::CONFIG_TOKEN, null, null, $idShop);
        $storeId = Configuration::get(self::CONFIG_STORE_ID, null, null, $idShop);
        if (is_string($token) && $token !== '' && is_numeric($storeId) && (int) $storeId > 0) {
            $conveyor['token'] = $token;
            $conveyor['shoppingfeed_store_id'] = (int) $storeId;
        }

        try {
            $handler = new ActionsHandler();
            $handler->setConveyor($conveyor);
            $handler->addActions('saveOrder');
            $result = (bool) $handler->process(self::ACTIONS_NAME);
            $this->lastConveyor = $handler->getConveyor();
            unset($this->lastConveyor['token']);

            return $result;
        } catch (ShoppingfeedSyncException $e) {
            $this->log(
                sprintf('the new state %d of order %d could not be queued: %s', $idOrderState, $idOrder, $e->getMessage()),
                3,
                $idOrder
            );

            return false;
        }
    }

    /**
     * The snapshot the extension queues (keys of the contract's "order snapshot").
     */
    public function buildSnapshot(array $data, int $idOrderState): array
    {
        $snapshot = [];
        if (isset($data['id_internal_shoppingfeed']) && is_numeric($data['id_internal_shoppingfeed'])
            && (int) $data['id_internal_shoppingfeed'] > 0) {
            $snapshot['id_internal_shoppingfeed'] = (int) $data['id_internal_shoppingfeed'];
        }
        foreach (['reference', 'marketplace'] as $key) {
            if (isset($data[$key]) && (string) $data[$key] !== '') {
                $snapshot[$key] = (string) $data[$key];
            }
        }
        $snapshot['id_order_state'] = $idOrderState;
        $trackingNumber = isset($data['tracking_number']) ? trim((string) $data['tracking_number']) : '';
        $carrierUrl = isset($data['carrier_url']) ? trim((string) $data['carrier_url']) : '';
        $snapshot['carrier'] = isset($data['carrier']) ? (string) $data['carrier'] : '';
        $snapshot['tracking_number'] = $trackingNumber;
        $snapshot['tracking_url'] = ($carrierUrl !== '' && $trackingNumber !== '')
            ? str_replace('@', $trackingNumber, $carrierUrl)
            : '';
        if (isset($data['reason']) && is_string($data['reason'])) {
            $snapshot['reason'] = $data['reason'];
        }
        if (isset($data['refund']) && is_array($data['refund'])) {
            $snapshot['refund'] = $data['refund'];
        }

        return $snapshot;
    }

    /** The conveyor of the last saveOrder, without the token (null when nothing was saved). */
    public function getLastConveyor(): ?array
    {
        return $this->lastConveyor;
    }

    /**
     * @return bool|null true/false, or null when a list cannot be read (then
     *                   saveOrder is called anyway and the extension reports
     *                   the malformed setting by name)
     */
    private function isListedState(int $idOrderState, int $idShop): ?bool
    {
        foreach (self::STATE_LISTS as $name) {
            $raw = Configuration::get($name, null, null, $idShop);
            if ($raw === false || $raw === null || $raw === '') {
                continue;
            }
            $list = is_array($raw) ? $raw : json_decode((string) $raw, true);
            if (!is_array($list)) {
                return null;
            }
            foreach ($list as $id) {
                if (!is_int($id) && !(is_string($id) && ctype_digit($id))) {
                    return null;
                }
                if ((int) $id === $idOrderState) {
                    return true;
                }
            }
        }

        return false;
    }

    private static function stateId($state): int
    {
        if (is_object($state) && isset($state->id) && is_numeric($state->id)) {
            return (int) $state->id;
        }
        if (is_numeric($state)) {
            return (int) $state;
        }

        return 0;
    }

    private function log(string $message, int $severity, int $idOrder): void
    {
        $message = 'Shopping Feed order sync: ' . $message;
        if (class_exists('PrestaShopLogger')) {
            PrestaShopLogger::addLog($message, $severity, null, 'Order', $idOrder, true);
        } else {
            error_log($message);
        }
    }
}
