<?php
/**
 * The Shopping Feed module's order-sync entry points, on the extension's side.
 *
 * Why: with the shoppingfeed_sync extension loaded, the module's own path
 * (addOrderTask() -> process('shoppingfeedOrderSync')) include_once's a file
 * declaring a class the extension declares: a fatal error. The override of
 * the module's main class (override/modules/shoppingfeed/shoppingfeed.php),
 * the sweep, the task-order migration and the cron reach the extension
 * through this class instead. It reads what the module reads (its settings,
 * its shoppingfeed_order and shoppingfeed_token tables) and builds the
 * snapshots the extension queues; it needs nothing of PrestaShop's
 * controllers (Db, Configuration, Order, OrderCarrier, Carrier, OrderSlip,
 * OrderInvoice, Hook only), so the hook, a cron and the installer's CLI can
 * all use it.
 *
 * Rules (what each public method documents in detail):
 *
 * - Sync enabled for a shop (isSyncEnabled()): the module's
 *   SHOPPINGFEED_ORDER_SYNC_ENABLED read globally, as the module reads it,
 *   AND for the shop (a shop may switch it off in multistore), OR the
 *   extension's own SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED for the shop
 *   (the setting of the extension's first integration).
 * - Settings of a shop are read with Configuration::get($name, null, null, $idShop):
 *   PrestaShop falls back to the group's, then the global value.
 * - The token of an order (tokenForOrder()): the shoppingfeed_token row named
 *   by its shoppingfeed_order row; when that row is missing or inactive, the
 *   only active token of the order's shop; else none (the update is queued
 *   untagged, and the first token of its shop that runs the cron sends it).
 * - Never throws into the merchant's request: every failure is logged
 *   (PrestaShopLogger, and classlib's ProcessLoggerHandler when the module's
 *   classlib is there; never the token) and answered with false.
 */

if (!defined('_PS_VERSION_') && !defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    exit;
}

require_once dirname(__DIR__) . '/ShoppingfeedPrestaShopOrderDataProvider.php';

class ShoppingfeedOrderSyncTakeover
{
    const EXTENSION = 'shoppingfeed_sync';

    /** The module's switch (Shoppingfeed::ORDER_SYNC_ENABLED). */
    const CONFIG_MODULE_SYNC_ENABLED = 'SHOPPINGFEED_ORDER_SYNC_ENABLED';
    /** The extension's first integration's switch. */
    const CONFIG_SYNC_ENABLED = 'SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED';
    /** The module's switch of partial refunds (Shoppingfeed::ALLOW_PARTIAL_REFUND). */
    const CONFIG_ALLOW_PARTIAL_REFUND = 'SHOPPINGFEED_ALLOW_PARTIAL_REFUND';
    /** The module's marketplaces whose invoices are uploaded (Shoppingfeed::ORDER_INVOICE_SYNC_MARKETPLACES). */
    const CONFIG_INVOICE_MARKETPLACES = 'SHOPPINGFEED_ORDER_INVOICE_SYNC_MARKETPLACES';
    /** The module's feed reference format (Shoppingfeed::PRODUCT_FEED_REFERENCE_FORMAT). */
    const CONFIG_REFERENCE_FORMAT = 'SHOPPINGFEED_PRODUCT_FEED_REFERENCE_FORMAT';

    const SHIPPED_LIST = 'SHOPPINGFEED_SHIPPED_ORDERS';
    const STATE_LISTS = [
        'SHOPPINGFEED_SHIPPED_ORDERS',
        'SHOPPINGFEED_CANCELLED_ORDERS',
        'SHOPPINGFEED_REFUNDED_ORDERS',
        'SHOPPINGFEED_DELIVERED_ORDERS',
    ];

    const ACTION_STATUS = 'SYNC_STATUS';
    const ACTION_REFUND = 'SYNC_REFUND';
    const ACTION_INVOICE = 'SYNC_INVOICE';

    /** The extension's class of each action. */
    const ACTION_CLASSES = [
        'SYNC_STATUS' => 'ShoppingfeedOrderSyncStatusActions',
        'SYNC_REFUND' => 'ShoppingfeedOrderSyncRefundActions',
        'SYNC_INVOICE' => 'ShoppingfeedOrderSyncInvoiceActions',
    ];
    /**
     * The module's task of each field, where an update waits while the
     * extension loaded has no class that sends that field (see hold()).
     */
    const HOLD_TASKS = [
        'SYNC_REFUND' => 'PARTIAL_REFUND',
        'SYNC_INVOICE' => 'UPLOAD_INVOICE',
    ];

    /** Outcomes of the last queue*() call (getLastOutcome()). */
    const QUEUED = 'queued';
    const NOT_SHOPPINGFEED = 'not_shoppingfeed';
    const DISABLED = 'disabled';
    const NOT_LISTED = 'not_listed';
    const NOTHING_TO_SEND = 'nothing_to_send';
    const UNCHANGED = 'unchanged';
    const FAILED = 'failed';
    /** Durable in the module's own queue (shoppingfeed_task_order), for the extension's class of its field: see hold(). */
    const HELD = 'held';

    /** @var ShoppingfeedOrderDataProvider */
    private $provider;
    /** @var string */
    private $lastOutcome = '';
    /** @var array|null the conveyor of the last save, without the token (tests, logs) */
    private $lastConveyor;

    public function __construct(?ShoppingfeedOrderDataProvider $provider = null)
    {
        $this->provider = $provider ?: new ShoppingfeedPrestaShopOrderDataProvider();
    }

    /**
     * The class that sends each action's field (ACTION_CLASSES by default).
     * Pointing a field at a class that does not exist stands for an
     * extension build without it: its updates are held (hold()); tests of
     * that path do so, and so may a merchant who wants a field left to the
     * module for a while.
     *
     * @var array<string, string>
     */
    public static $classes = self::ACTION_CLASSES;

    /** Whether the extension loaded here has the class that sends this action's field (SYNC_STATUS, SYNC_REFUND, SYNC_INVOICE). */
    public static function canSend(string $action): bool
    {
        return isset(self::$classes[$action]) && class_exists(self::$classes[$action], false);
    }

    /** Whether the extension is there to take over (loaded in this PHP, its Actions class declared by it). */
    public static function isAvailable(): bool
    {
        return extension_loaded(self::EXTENSION) && class_exists('ShoppingfeedOrderSyncStatusActions', false);
    }

    /**
     * Whether the order sync runs for a shop: the module's
     * SHOPPINGFEED_ORDER_SYNC_ENABLED, both globally (the module reads it so)
     * and for the shop; or SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED for the shop.
     */
    public function isSyncEnabled(int $idShop): bool
    {
        if (self::flag(Configuration::get(self::CONFIG_MODULE_SYNC_ENABLED))
            && self::flag(Configuration::get(self::CONFIG_MODULE_SYNC_ENABLED, null, null, $idShop))) {
            return true;
        }

        return self::flag(Configuration::get(self::CONFIG_SYNC_ENABLED, null, null, $idShop));
    }

    /** Whether credit slips are synchronized (the module's SHOPPINGFEED_ALLOW_PARTIAL_REFUND, globally and for the shop). */
    public function isPartialRefundEnabled(int $idShop): bool
    {
        return self::flag(Configuration::get(self::CONFIG_ALLOW_PARTIAL_REFUND))
            && self::flag(Configuration::get(self::CONFIG_ALLOW_PARTIAL_REFUND, null, null, $idShop));
    }

    /**
     * Whether the invoices of a marketplace's orders are uploaded: the
     * module's Hub when its classes are there, else its setting read as the
     * Hub reads it (a JSON object keyed by md5(lower(trim(name))) with
     * 'isEnabled'; a JSON list of names is accepted too).
     */
    public function isInvoiceSyncEnabled(string $marketplace): bool
    {
        $hub = 'ShoppingfeedAddon\OrderInvoiceSync\Hub';
        try {
            if (class_exists($hub)) {
                $found = $hub::getInstance()->findByName($marketplace);

                return $found && $found->isEnabled();
            }
        } catch (Throwable $e) {
            $this->log('the marketplaces of the invoice upload could not be read: ' . $e->getMessage(), 2);
        }
        $config = json_decode((string) Configuration::getGlobalValue(self::CONFIG_INVOICE_MARKETPLACES), true);
        if (!is_array($config)) {
            return false;
        }
        $name = strtolower(trim($marketplace));
        $id = md5($name);
        if (isset($config[$id])) {
            return is_array($config[$id]) && !empty($config[$id]['isEnabled']);
        }
        foreach ($config as $entry) {
            if (is_string($entry) && strtolower(trim($entry)) === $name) {
                return true;
            }
        }

        return false;
    }

    /**
     * The Shopping Feed token of an order: ['id_shoppingfeed_token', 'id_shop',
     * 'shoppingfeed_store_id', 'token', 'active'], from its shoppingfeed_order
     * row; when that token is missing or inactive, the only active token of
     * the order's shop; null when there is none or several (the update is
     * then queued untagged).
     */
    public function tokenForOrder(int $idOrder): ?array
    {
        if ($idOrder <= 0) {
            return null;
        }
        $db = Db::getInstance();
        $idToken = (int) $db->getValue('SELECT `id_shoppingfeed_token` FROM `' . _DB_PREFIX_ . 'shoppingfeed_order`'
            . ' WHERE `id_order` = ' . (int) $idOrder);
        if ($idToken > 0) {
            $row = $db->getRow('SELECT * FROM `' . _DB_PREFIX_ . 'shoppingfeed_token` WHERE `id_shoppingfeed_token` = ' . $idToken);
            if ($row && (int) $row['active'] === 1) {
                return self::tokenRow($row);
            }
        }
        $idShop = (int) $db->getValue('SELECT `id_shop` FROM `' . _DB_PREFIX_ . 'orders` WHERE `id_order` = ' . (int) $idOrder);
        if ($idShop <= 0) {
            return null;
        }
        $rows = $db->executeS('SELECT * FROM `' . _DB_PREFIX_ . 'shoppingfeed_token` WHERE `active` = 1 AND `id_shop` = ' . $idShop);

        return is_array($rows) && count($rows) === 1 ? self::tokenRow($rows[0]) : null;
    }

    /**
     * Queues the state of a Shopping Feed order (SYNC_STATUS), as the
     * module's hookActionOrderStatusPostUpdate would queue it: a Shopping
     * Feed order, sync enabled for its shop, Shoppingfeed::isOrderSyncAvailable()
     * (when the module's class is loaded), the state in one of the shop's
     * four lists. $idOrderState: the new state (default: the order's
     * current state). A shipped state carries the carrier, tracking number
     * and URL, rewritten by the hook actionShoppingfeedTracking as the
     * module lets integrators do.
     *
     * @return bool true when the update is durable in the extension's queue
     *              (or, for a field the extension cannot send yet, held in
     *              the module's: getLastOutcome() HELD)
     */
    public function queueStatus(int $idOrder, ?int $idOrderState = null): bool
    {
        $this->begin();
        try {
            $context = $this->orderContext($idOrder);
            if ($context === null) {
                return $this->outcome(self::NOT_SHOPPINGFEED);
            }
            $idShop = $context['id_shop'];
            if (!$this->isSyncEnabled($idShop) || !self::moduleAllowsSync($idShop)) {
                return $this->outcome(self::DISABLED);
            }
            $state = $idOrderState !== null && $idOrderState > 0 ? $idOrderState : (int) $context['order']->current_state;
            if (!$this->isListedState($state, $idShop)) {
                return $this->outcome(self::NOT_LISTED);
            }
            $snapshot = $this->statusSnapshot($context, $state);
            if ($snapshot === null) {
                return $this->outcome(self::NOT_SHOPPINGFEED);
            }

            return $this->save($idOrder, $idShop, self::ACTION_STATUS, $snapshot);
        } catch (Throwable $e) {
            return $this->failure($idOrder, 'the state of the order could not be queued', $e);
        }
    }

    /**
     * Queues one credit slip (SYNC_REFUND): the identifier, id_order_slip and
     * refund => ['shipping' => bool, 'products' => [['reference', 'quantity']]],
     * the products of that slip only, by the reference the marketplace knows
     * (the module's feed reference: Shoppingfeed::mapReference() when the
     * module is loaded, combinations included; else the feed's default
     * "<id_product>[_<id_product_attribute>]" or the order line's column of
     * the configured reference format). Only when the module's
     * SHOPPINGFEED_ALLOW_PARTIAL_REFUND is on, as the module does. While the
     * loaded extension has no refund class, held in the module's queue
     * instead (hold()).
     */
    public function queueCreditSlip(int $idOrder, int $idOrderSlip): bool
    {
        $this->begin();
        try {
            $context = $this->orderContext($idOrder);
            if ($context === null) {
                return $this->outcome(self::NOT_SHOPPINGFEED);
            }
            if (!$this->isPartialRefundEnabled($context['id_shop'])) {
                return $this->outcome(self::DISABLED);
            }
            $db = Db::getInstance();
            $slip = $db->getRow('SELECT * FROM `' . _DB_PREFIX_ . 'order_slip` WHERE `id_order_slip` = ' . (int) $idOrderSlip
                . ' AND `id_order` = ' . (int) $idOrder);
            if (!$slip) {
                return $this->outcome(self::NOTHING_TO_SEND);
            }
            $lines = $db->executeS('SELECT osd.`product_quantity` AS refunded, od.* FROM `' . _DB_PREFIX_ . 'order_slip_detail` osd'
                . ' JOIN `' . _DB_PREFIX_ . 'order_detail` od ON od.`id_order_detail` = osd.`id_order_detail`'
                . ' WHERE osd.`id_order_slip` = ' . (int) $idOrderSlip . ' ORDER BY od.`id_order_detail`');
            $products = [];
            foreach (is_array($lines) ? $lines : [] as $line) {
                $quantity = (int) $line['refunded'];
                if ($quantity > 0) {
                    $products[] = ['reference' => $this->productReference($line), 'quantity' => $quantity];
                }
            }
            $shipping = (int) $slip['shipping_cost'] > 0 || (float) $slip['total_shipping_tax_incl'] > 0;
            if (!$products && !$shipping) {
                return $this->outcome(self::NOTHING_TO_SEND);
            }
            $snapshot = self::identifier($context['sf_order']);
            $snapshot['id_order_slip'] = (int) $idOrderSlip;
            $snapshot['refund'] = ['shipping' => $shipping, 'products' => $products];

            return $this->save($idOrder, $context['id_shop'], self::ACTION_REFUND, $snapshot);
        } catch (Throwable $e) {
            return $this->failure($idOrder, 'the credit slip ' . $idOrderSlip . ' could not be queued', $e);
        }
    }

    /**
     * Queues the invoices of an order (SYNC_INVOICE): one update per order
     * carrying every invoice PDF of the order (an order may have several),
     * rendered now with PrestaShop's PDF class, as the merchant would
     * download them (PDF::TEMPLATE_INVOICE, render(false)); a later save
     * (the invoice changed, another invoice was made) replaces the pending
     * one. The snapshot: the identifier, id_order_invoice and
     * invoice_number of the latest invoice, and documents => [['name' =>
     * '<PS_INVOICE_PREFIX><number, 6 digits>.pdf', 'type' => 'invoice',
     * 'content' => <the PDF's bytes>], ...]. A PDF that cannot be rendered
     * leaves the update in the module's queue (hold()): the next cron's
     * migration renders it again. While the loaded extension has no
     * invoice class, held likewise.
     */
    public function queueInvoices(int $idOrder): bool
    {
        $this->begin();
        try {
            $context = $this->orderContext($idOrder);
            if ($context === null) {
                return $this->outcome(self::NOT_SHOPPINGFEED);
            }
            if (!$this->isSyncEnabled($context['id_shop'])) {
                return $this->outcome(self::DISABLED);
            }
            $invoices = Db::getInstance()->executeS('SELECT `id_order_invoice`, `number` FROM `' . _DB_PREFIX_
                . 'order_invoice` WHERE `id_order` = ' . (int) $idOrder . ' AND `number` > 0 ORDER BY `id_order_invoice`');
            if (!is_array($invoices) || !$invoices) {
                return $this->outcome(self::NOTHING_TO_SEND);
            }
            if (!self::canSend(self::ACTION_INVOICE)) {
                return $this->hold($idOrder, self::ACTION_INVOICE);
            }
            try {
                $documents = $this->renderInvoices($invoices, $context['id_shop'], (int) $context['order']->id_lang);
            } catch (Throwable $e) {
                $this->log('the invoice PDF could not be rendered (kept for the next cron): ' . get_class($e) . ': ' . $e->getMessage(), 2, $idOrder);

                return $this->hold($idOrder, self::ACTION_INVOICE);
            }
            $last = end($invoices);
            $snapshot = self::identifier($context['sf_order']);
            $snapshot['id_order_invoice'] = (int) $last['id_order_invoice'];
            $snapshot['invoice_number'] = (int) $last['number'];
            $snapshot['documents'] = $documents;

            return $this->save($idOrder, $context['id_shop'], self::ACTION_INVOICE, $snapshot);
        } catch (Throwable $e) {
            return $this->failure($idOrder, 'the invoices could not be queued', $e);
        }
    }

    /** One document per invoice row, in the order given. */
    private function renderInvoices(array $invoices, int $idShop, int $idLang): array
    {
        $smarty = class_exists('Context') && isset(Context::getContext()->smarty) ? Context::getContext()->smarty : null;
        $prefix = (string) Configuration::get('PS_INVOICE_PREFIX', $idLang > 0 ? $idLang : null, null, $idShop);
        $documents = [];
        foreach ($invoices as $row) {
            $invoice = new OrderInvoice((int) $row['id_order_invoice']);
            $pdf = new PDF($invoice, PDF::TEMPLATE_INVOICE, $smarty);
            $bytes = $pdf->render(false);
            if (!is_string($bytes) || strncmp($bytes, '%PDF-', 5) !== 0) {
                throw new RuntimeException('PDF::render() gave no PDF for invoice ' . (int) $row['id_order_invoice']);
            }
            $name = preg_replace('~["\\\\/\x00-\x1f\x7f]~', '_', $prefix . sprintf('%06d', (int) $row['number']) . '.pdf');
            $documents[] = ['name' => $name, 'type' => 'invoice', 'content' => $bytes];
        }

        return $documents;
    }

    /**
     * Called by the tracking hooks: when the order has a pending SYNC_STATUS
     * row (not sent yet) of a shipped state whose tracking number is missing
     * or differs from the order's now, saves the current snapshot again (it
     * replaces the waiting one). Otherwise does nothing.
     *
     * @return bool true when a snapshot was saved again
     */
    public function refreshTracking(int $idOrder): bool
    {
        $this->begin();
        try {
            $waiting = null;
            foreach (ShoppingfeedOrderSyncQueue::find($idOrder) as $row) {
                if ($row['action'] === self::ACTION_STATUS && $row['state'] === 'pending') {
                    $waiting = $row;
                }
            }
            if ($waiting === null) {
                return $this->outcome(self::UNCHANGED);
            }
            $payload = is_array($waiting['payload']) ? $waiting['payload'] : [];
            $context = $this->orderContext($idOrder);
            if ($context === null) {
                return $this->outcome(self::NOT_SHOPPINGFEED);
            }
            $state = isset($payload['id_order_state']) ? (int) $payload['id_order_state'] : 0;
            if (!in_array($state, $this->stateList(self::SHIPPED_LIST, $context['id_shop']), true)) {
                return $this->outcome(self::UNCHANGED);
            }
            $snapshot = $this->statusSnapshot($context, $state);
            $before = isset($payload['tracking_number']) ? (string) $payload['tracking_number'] : '';
            $now = $snapshot !== null && isset($snapshot['tracking_number']) ? (string) $snapshot['tracking_number'] : '';
            if ($snapshot === null || $now === '' || $now === $before) {
                return $this->outcome(self::UNCHANGED);
            }

            return $this->save($idOrder, $context['id_shop'], self::ACTION_STATUS, $snapshot);
        } catch (Throwable $e) {
            return $this->failure($idOrder, 'the tracking number of the order could not be updated in the queue', $e);
        }
    }

    /** Why the last queue*() / refreshTracking() call answered as it did (one of the outcome constants). */
    public function getLastOutcome(): string
    {
        return $this->lastOutcome;
    }

    /** The conveyor of the last save, without the token (null when nothing was saved). */
    public function getLastConveyor(): ?array
    {
        return $this->lastConveyor;
    }

    /** The ids of a shop's states listed in any of the four lists. */
    public function listedStates(int $idShop): array
    {
        $ids = [];
        foreach (self::STATE_LISTS as $name) {
            $ids = array_merge($ids, $this->stateList($name, $idShop));
        }

        return array_values(array_unique($ids));
    }

    public function isListedState(int $idOrderState, int $idShop): bool
    {
        return in_array($idOrderState, $this->listedStates($idShop), true);
    }

    /** One state list of a shop (ints); an unset or malformed list is empty, as json_decode makes it for the module. */
    public function stateList(string $name, int $idShop): array
    {
        $raw = Configuration::get($name, null, null, $idShop);
        $list = is_array($raw) ? $raw : json_decode((string) $raw, true);
        if (!is_array($list)) {
            return [];
        }
        $ids = [];
        foreach ($list as $id) {
            if (is_int($id) || (is_string($id) && ctype_digit($id))) {
                $ids[] = (int) $id;
            }
        }

        return $ids;
    }

    /* ---- internals ------------------------------------------------- */

    /**
     * The order, its shoppingfeed_order row and its shop; null when it is
     * not an order imported by the module.
     */
    private function orderContext(int $idOrder): ?array
    {
        if ($idOrder <= 0) {
            return null;
        }
        $sfOrder = Db::getInstance()->getRow('SELECT * FROM `' . _DB_PREFIX_ . 'shoppingfeed_order` WHERE `id_order` = ' . (int) $idOrder);
        if (!$sfOrder) {
            return null;
        }
        $order = new Order($idOrder);
        if (!Validate::isLoadedObject($order)) {
            return null;
        }

        return ['order' => $order, 'sf_order' => $sfOrder, 'id_shop' => (int) $order->id_shop];
    }

    /** The SYNC_STATUS snapshot; for a shipped state with the tracking data, through the hook actionShoppingfeedTracking. */
    private function statusSnapshot(array $context, int $idOrderState): ?array
    {
        $idOrder = (int) $context['order']->id;
        $data = $this->provider->getOrderData($idOrder);
        if (!is_array($data)) {
            return null;
        }
        $snapshot = self::identifier($context['sf_order']);
        foreach (['reference', 'marketplace'] as $key) {
            if (!isset($snapshot[$key]) && isset($data[$key]) && (string) $data[$key] !== '') {
                $snapshot[$key] = (string) $data[$key];
            }
        }
        $snapshot['id_order_state'] = $idOrderState;
        if (!in_array($idOrderState, $this->stateList(self::SHIPPED_LIST, $context['id_shop']), true)) {
            return $snapshot;
        }

        $trackingNumber = isset($data['tracking_number']) ? trim((string) $data['tracking_number']) : '';
        $carrierUrl = isset($data['carrier_url']) ? trim((string) $data['carrier_url']) : '';
        $trackingUrl = '';
        if ($carrierUrl !== '' && $trackingNumber !== '') {
            // As the module builds it (it also repairs a doubled scheme).
            $trackingUrl = str_replace('@', $trackingNumber, str_replace('http://http://', 'http://', $carrierUrl));
        }
        // The module's payload keys, so that integrators' hooks keep working.
        $payload = [
            'carrier_name' => isset($data['carrier']) ? (string) $data['carrier'] : '',
            'tracking_number' => $trackingNumber,
            'tracking_url' => $trackingUrl,
            'items' => [],
            'return_info' => null,
            'warehouse_id' => null,
        ];
        try {
            Hook::exec('actionShoppingfeedTracking', ['order' => $context['order'], 'taskOrderPayload' => &$payload]);
        } catch (Throwable $e) {
            $this->log('the hook actionShoppingfeedTracking failed (tracking data kept as they were): '
                . get_class($e) . ': ' . $e->getMessage(), 2, $idOrder);
        }
        $payload = is_array($payload) ? $payload : [];
        $snapshot['carrier'] = isset($payload['carrier_name']) ? (string) $payload['carrier_name'] : '';
        $snapshot['tracking_number'] = isset($payload['tracking_number']) ? trim((string) $payload['tracking_number']) : '';
        $snapshot['tracking_url'] = isset($payload['tracking_url']) ? (string) $payload['tracking_url'] : '';
        foreach (['items', 'return_info', 'warehouse_id'] as $key) {
            if (!empty($payload[$key])) {
                $snapshot[$key] = $payload[$key];
            }
        }
        // A carrier without a tracking URL gives no number to wait for.
        $snapshot['tracking_expected'] = $carrierUrl !== '' || $snapshot['tracking_url'] !== '';

        return $snapshot;
    }

    /** The order's identifier for the API: Shopping Feed's id, and the marketplace reference and channel. */
    private static function identifier(array $sfOrder): array
    {
        $snapshot = [];
        if (isset($sfOrder['id_internal_shoppingfeed']) && is_numeric($sfOrder['id_internal_shoppingfeed'])
            && (int) $sfOrder['id_internal_shoppingfeed'] > 0) {
            $snapshot['id_internal_shoppingfeed'] = (int) $sfOrder['id_internal_shoppingfeed'];
        }
        if (isset($sfOrder['id_order_marketplace']) && (string) $sfOrder['id_order_marketplace'] !== '') {
            $snapshot['reference'] = (string) $sfOrder['id_order_marketplace'];
        }
        if (isset($sfOrder['name_marketplace']) && (string) $sfOrder['name_marketplace'] !== '') {
            $snapshot['marketplace'] = (string) $sfOrder['name_marketplace'];
        }

        return $snapshot;
    }

    /** The reference of an order line as the marketplace knows it (the module's feed reference). */
    private function productReference(array $line): string
    {
        $idProduct = (int) $line['product_id'];
        $idAttribute = isset($line['product_attribute_id']) ? (int) $line['product_attribute_id'] : 0;
        if (class_exists('ShoppingfeedProduct') && class_exists('Shoppingfeed', false)) {
            $module = Module::getInstanceByName('shoppingfeed');
            if ($module && method_exists($module, 'mapReference')) {
                $product = new ShoppingfeedProduct();
                $product->id_product = $idProduct;
                $product->id_product_attribute = $idAttribute;

                return (string) $module->mapReference($product);
            }
        }
        $format = (string) Configuration::get(self::CONFIG_REFERENCE_FORMAT);
        $columns = ['reference' => 'product_reference', 'supplier_reference' => 'product_supplier_reference',
            'ean13' => 'product_ean13', 'upc' => 'product_upc', 'isbn' => 'product_isbn', 'mpn' => 'product_mpn'];
        if ($format !== '' && isset($columns[$format]) && isset($line[$columns[$format]]) && (string) $line[$columns[$format]] !== '') {
            return (string) $line[$columns[$format]];
        }

        return $idProduct . ($idAttribute > 0 ? '_' . $idAttribute : '');
    }

    /**
     * saveOrder of the action's class, through classlib's handler when the
     * module's classlib is there; held in the module's queue when the
     * extension has no class for the field (hold()).
     */
    private function save(int $idOrder, int $idShop, string $action, array $snapshot): bool
    {
        if (!self::canSend($action)) {
            return $this->hold($idOrder, $action);
        }
        $conveyor = [
            'id_order' => $idOrder,
            'id_shop' => $idShop,
            'order_action' => $action,
            'order' => $snapshot,
        ];
        $token = $this->tokenForOrder($idOrder);
        if ($token !== null) {
            $conveyor['shoppingfeed_store_id'] = $token['shoppingfeed_store_id'];
            if ($token['token'] !== '' && $token['shoppingfeed_store_id'] > 0) {
                $conveyor['token'] = $token['token'];
            }
        }
        $secret = isset($conveyor['token']) ? $conveyor['token'] : null;
        try {
            $class = self::actionsClass($action);
            $handlerClass = class_exists('ShoppingfeedClasslib\Actions\ActionsHandler')
                ? 'ShoppingfeedClasslib\Actions\ActionsHandler'
                : (class_exists('ActionsHandler') ? 'ActionsHandler' : null);
            if ($handlerClass !== null) {
                $handler = new $handlerClass();
                $handler->setConveyor($conveyor);
                $handler->addActions('saveOrder');
                $ok = (bool) $handler->process($class);
                $after = $handler->getConveyor();
            } else {
                $actions = new $class();
                $actions->setConveyor($conveyor);
                $ok = (bool) $actions->saveOrder();
                $after = $actions->getConveyor();
            }
            $this->lastConveyor = is_array($after) ? $after : $conveyor;
            unset($this->lastConveyor['token']);
            if (!$ok) {
                $this->log(sprintf('the update %s of the order was not queued', $action), 2, $idOrder);

                return $this->outcome(self::FAILED);
            }

            return $this->outcome(self::QUEUED);
        } catch (Throwable $e) {
            return $this->failure($idOrder, sprintf('the update %s could not be queued', $action), $e, $secret);
        }
    }

    /**
     * An update of a field the loaded extension cannot send yet (a credit
     * slip or an invoice, with an extension that has only the status
     * class): kept as the module's own task row (shoppingfeed_task_order,
     * PARTIAL_REFUND or UPLOAD_INVOICE, one per order as the module keeps
     * them), never as a queue row that no class would ever send. Nothing is
     * lost: the task row names the order, and the order's slips and
     * invoices are in PrestaShop's tables. The task-order migration moves it
     * into the extension's queue once the extension has the field's class
     * (the refund: every slip made since the task's first save); with the
     * takeover removed, the module's own cron sends it. INSERT IGNORE: a
     * second slip keeps the task's first date, so that slip goes too.
     */
    private function hold(int $idOrder, string $action): bool
    {
        $now = date('Y-m-d H:i:s');
        $ok = Db::getInstance()->execute('INSERT IGNORE INTO `' . _DB_PREFIX_ . 'shoppingfeed_task_order`'
            . ' (`action`, `id_order`, `update_at`, `date_add`, `date_upd`) VALUES (\'' . pSQL(self::HOLD_TASKS[$action]) . '\', '
            . (int) $idOrder . ', \'' . pSQL($now) . '\', \'' . pSQL($now) . '\', \'' . pSQL($now) . '\')');
        if (!$ok) {
            $this->log(sprintf('the update %s of the order could not be kept for later', $action), 3, $idOrder);

            return $this->outcome(self::FAILED);
        }
        $this->outcome(self::HELD);

        return true;
    }

    /**
     * The extension's class for an action (canSend() said it exists); a merchant's override
     * (override/modules/shoppingfeed/classes/actions/<Class>.php declaring
     * <Class>Override) is used as classlib would use it.
     */
    private static function actionsClass(string $action): string
    {
        $class = self::$classes[$action];
        if (defined('_PS_OVERRIDE_DIR_') && !class_exists($class . 'Override', false)) {
            $file = _PS_OVERRIDE_DIR_ . 'modules/shoppingfeed/classes/actions/' . $class . '.php';
            if (is_file($file)) {
                include_once $file;
            }
        }

        return class_exists($class . 'Override', false) ? $class . 'Override' : $class;
    }

    /** Shoppingfeed::isOrderSyncAvailable() when the module's class is loaded (the old shoppingfluxexport module may still sync). */
    private static function moduleAllowsSync(int $idShop): bool
    {
        if (class_exists('Shoppingfeed', false) && method_exists('Shoppingfeed', 'isOrderSyncAvailable')) {
            return (bool) Shoppingfeed::isOrderSyncAvailable($idShop);
        }

        return true;
    }

    private static function tokenRow(array $row): array
    {
        return [
            'id_shoppingfeed_token' => (int) $row['id_shoppingfeed_token'],
            'id_shop' => (int) $row['id_shop'],
            'shoppingfeed_store_id' => (int) $row['shoppingfeed_store_id'],
            'token' => (string) (isset($row['content']) ? $row['content'] : (isset($row['token']) ? $row['token'] : '')),
            'active' => (int) $row['active'] === 1,
        ];
    }

    /** PrestaShop's stored booleans: '1', 'true', 1, true. */
    private static function flag($value): bool
    {
        if (is_bool($value)) {
            return $value;
        }

        return in_array(strtolower(trim((string) $value)), ['1', 'true', 'yes', 'on'], true);
    }

    private function begin(): void
    {
        $this->lastOutcome = '';
        $this->lastConveyor = null;
    }

    private function outcome(string $outcome): bool
    {
        $this->lastOutcome = $outcome;

        return $outcome === self::QUEUED;
    }

    private function failure(int $idOrder, string $what, Throwable $e, ?string $secret = null): bool
    {
        $this->log($what . ': ' . get_class($e) . ': ' . $e->getMessage(), 3, $idOrder, $secret);

        return $this->outcome(self::FAILED);
    }

    /** PrestaShopLogger (the back office's logs) and classlib's process log (the module's "Logs" page); never a token. */
    private function log(string $message, int $severity, int $idOrder = 0, ?string $secret = null): void
    {
        if ($secret === null && $idOrder > 0) {
            try {
                $token = $this->tokenForOrder($idOrder);
                $secret = $token !== null ? $token['token'] : null;
            } catch (Throwable $e) {
                $secret = null;
            }
        }
        if ($secret !== null && strlen($secret) >= 4) {
            $message = str_replace($secret, '[token]', $message);
        }
        $message = 'Shopping Feed order sync' . ($idOrder > 0 ? ' [Order: ' . $idOrder . ']' : '') . ': ' . $message;
        try {
            if (class_exists('PrestaShopLogger')) {
                PrestaShopLogger::addLog($message, $severity, null, 'Order', $idOrder > 0 ? $idOrder : null, true);
            } else {
                error_log($message);
            }
            $logger = 'ShoppingfeedClasslib\Extensions\ProcessLogger\ProcessLoggerHandler';
            if (class_exists($logger)) {
                $severity >= 3 ? $logger::logError($message, 'Order', $idOrder) : $logger::logInfo($message, 'Order', $idOrder);
            }
        } catch (Throwable $e) {
            error_log($message);
        }
    }
}
