<?php
/**
 * ShoppingfeedOrderSyncTaskOrderMigration: the module's pending
 * shoppingfeed_task_order rows (what it had queued before the takeover, or
 * queued by its own path where the extension was not loaded) become
 * updates in the extension's queue; each task row is deleted once its
 * update is durable, so a second run adds nothing. Run in a child PHP
 * booted like the shop, the integration placed in its root.
 */
final class MigrationTest extends PrestashopTestCase
{
    /** @var int */
    private $idToken;
    /** @var int */
    private $idCarrier;

    protected function setUp(): void
    {
        parent::setUp();
        $this->placeIntegration();
        $this->idToken = $this->token();
        $this->idCarrier = $this->carrier();
        Configuration::updateValue('SHOPPINGFEED_ALLOW_PARTIAL_REFUND', 1);
    }

    /** @param bool $fields false: the extension stands for a build without the refund and invoice classes (WITHOUT_FIELD_CLASSES) */
    private function migrate(bool $fields = true): array
    {
        $run = $this->runInShop(($fields ? '' : self::WITHOUT_FIELD_CLASSES) . 'require_once _PS_MODULE_DIR_ . "shoppingfeed/classes/takeover/ShoppingfeedOrderSyncTaskOrderMigration.php";'
            . ' echo json_encode((new ShoppingfeedOrderSyncTaskOrderMigration())->run());');
        $this->assertChildOk($run);
        $this->assertSame('', $run['stderr']);
        $this->assertIsArray($run['json'], $run['stdout']);

        return $run['json'];
    }

    private static function task(int $idOrder, string $action, array $extra = []): void
    {
        $now = date('Y-m-d H:i:s', time() - 60);
        Db::getInstance()->insert('shoppingfeed_task_order', $extra + ['action' => $action, 'id_order' => $idOrder,
            'update_at' => $now, 'date_add' => $now, 'date_upd' => $now]);
    }

    private function order(int $state, array $o = []): array
    {
        return $this->importedOrder($this->idToken, $o + ['state' => $state, 'id_carrier' => $this->idCarrier, 'tracking_number' => 'T-9']);
    }

    private static function slip(int $idOrder, array $quantities, bool $shipping = false): int
    {
        $db = Db::getInstance();
        $now = date('Y-m-d H:i:s');
        $db->insert('order_slip', ['id_order' => $idOrder, 'shipping_cost' => $shipping ? 1 : 0, 'amount' => 0,
            'date_add' => $now, 'date_upd' => $now]);
        $id = $db->Insert_ID();
        foreach ($quantities as $idDetail => $qty) {
            $db->insert('order_slip_detail', ['id_order_slip' => $id, 'id_order_detail' => $idDetail, 'product_quantity' => $qty]);
        }

        return $id;
    }

    private static function rowsOf(int $idOrder, string $action): array
    {
        return array_values(array_filter(ShoppingfeedOrderSyncQueue::find($idOrder), static function ($row) use ($action) {
            return $row['action'] === $action;
        }));
    }

    public function testPendingTasksOfEveryActionBecomeQueueRowsAndTheirTaskRowsGo(): void
    {
        $shipped = $this->order(self::SHIPPED);
        self::task($shipped['id_order'], 'SYNC_STATUS');
        $cancelled = $this->order(self::CANCELLED);
        self::task($cancelled['id_order'], 'CHECK_TICKET_SYNC_STATUS', ['batch_id' => 'b-1', 'ticket_number' => 't-1']);
        $refunded = $this->order(self::SHIPPED, ['products' => [['product_id' => 21, 'product_attribute_id' => 3, 'product_quantity' => 2]]]);
        $idSlip = self::slip($refunded['id_order'], [$refunded['id_order_details'][0] => 2], true);
        self::task($refunded['id_order'], 'PARTIAL_REFUND');
        $invoiced = $this->order(self::PAYMENT_ACCEPTED);
        Db::getInstance()->insert('order_invoice', ['id_order' => $invoiced['id_order'], 'number' => 17, 'date_add' => date('Y-m-d H:i:s')]);
        $idInvoice = Db::getInstance()->Insert_ID();
        self::task($invoiced['id_order'], 'UPLOAD_INVOICE');

        $counts = $this->migrate();
        $this->assertSame(1, $counts['SYNC_STATUS']);
        $this->assertSame(1, $counts['CHECK_TICKET_SYNC_STATUS']);
        $this->assertSame(1, $counts['PARTIAL_REFUND']);
        $this->assertSame(1, $counts['UPLOAD_INVOICE']);
        $this->assertSame(0, $counts['kept']);
        $this->assertSame([], $this->taskOrders(), 'every task row went once queued');

        $ship = self::rowsOf($shipped['id_order'], 'SYNC_STATUS');
        $this->assertCount(1, $ship);
        $this->assertSame(self::SHIPPED, $ship[0]['payload']['id_order_state']);
        $this->assertSame('T-9', $ship[0]['payload']['tracking_number']);
        $this->assertSame(Sandbox::STORE_ID, $ship[0]['shoppingfeed_store_id'] ?? null);
        $this->assertSame(self::CANCELLED, self::rowsOf($cancelled['id_order'], 'SYNC_STATUS')[0]['payload']['id_order_state'],
            'a row waiting for its ticket is sent again');
        $refund = self::rowsOf($refunded['id_order'], 'SYNC_REFUND');
        $this->assertCount(1, $refund);
        $this->assertSame($idSlip, $refund[0]['payload']['id_order_slip']);
        $this->assertSame(['shipping' => true, 'products' => [['reference' => '21_3', 'quantity' => 2]]], $refund[0]['payload']['refund']);
        $invoice = self::rowsOf($invoiced['id_order'], 'SYNC_INVOICE');
        $this->assertCount(1, $invoice);
        $this->assertSame($idInvoice, $invoice[0]['payload']['id_order_invoice']);
        $this->assertSame(17, $invoice[0]['payload']['invoice_number']);
    }

    public function testRefundAndInvoiceTasksStayInTheModulesQueueWhileTheExtensionCannotSendThem(): void
    {
        $shipped = $this->order(self::SHIPPED);
        self::task($shipped['id_order'], 'SYNC_STATUS');
        $refunded = $this->order(self::SHIPPED, ['products' => [['product_id' => 21, 'product_quantity' => 2]]]);
        self::slip($refunded['id_order'], [$refunded['id_order_details'][0] => 1]);
        self::task($refunded['id_order'], 'PARTIAL_REFUND');
        $invoiced = $this->order(self::PAYMENT_ACCEPTED);
        Db::getInstance()->insert('order_invoice', ['id_order' => $invoiced['id_order'], 'number' => 18, 'date_add' => date('Y-m-d H:i:s')]);
        self::task($invoiced['id_order'], 'UPLOAD_INVOICE');

        $counts = $this->migrate(false);
        $this->assertSame(1, $counts['SYNC_STATUS']);
        $this->assertSame(2, $counts['held']);
        $this->assertSame(['PARTIAL_REFUND', 'UPLOAD_INVOICE'], array_column($this->taskOrders(), 'action'));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($refunded['id_order']));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($invoiced['id_order']));

        // An extension with both classes takes them.
        $counts = $this->migrate(true);
        $this->assertSame(1, $counts['PARTIAL_REFUND']);
        $this->assertSame(1, $counts['UPLOAD_INVOICE']);
        $this->assertSame([], $this->taskOrders());
        $this->assertCount(1, self::rowsOf($refunded['id_order'], 'SYNC_REFUND'));
        $this->assertCount(1, self::rowsOf($invoiced['id_order'], 'SYNC_INVOICE'));
    }

    public function testASecondRunAddsNothing(): void
    {
        $shipped = $this->order(self::SHIPPED);
        self::task($shipped['id_order'], 'SYNC_STATUS');
        $this->migrate();
        $before = ShoppingfeedOrderSyncQueue::find($shipped['id_order']);

        $counts = $this->migrate();
        $this->assertSame(['dropped_not_shoppingfeed' => 0, 'dropped_nothing_to_send' => 0, 'kept' => 0, 'unknown' => 0, 'held' => 0], $counts);
        $this->assertSame($before, ShoppingfeedOrderSyncQueue::find($shipped['id_order']));
    }

    public function testTasksOfOrdersThatAreNotShoppingFeedOrdersAreDroppedAndCounted(): void
    {
        $plain = $this->plainOrder(['state' => self::SHIPPED]);
        self::task($plain, 'SYNC_STATUS');
        self::task(999999, 'UPLOAD_INVOICE'); // the order is gone
        $gone = $this->order(self::SHIPPED);
        Db::getInstance()->delete('shoppingfeed_order', 'id_order = ' . (int) $gone['id_order']);
        self::task($gone['id_order'], 'PARTIAL_REFUND');

        $counts = $this->migrate();
        $this->assertSame(3, $counts['dropped_not_shoppingfeed']);
        $this->assertSame([], $this->taskOrders());
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($plain));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($gone['id_order']));
    }

    public function testATaskWithNothingToSendGoesAndOneThatCannotBeQueuedStays(): void
    {
        // No listed state in its whole history: the module deletes such tasks too.
        $processing = $this->order(self::PROCESSING);
        self::task($processing['id_order'], 'SYNC_STATUS');
        // Its current state is not listed any more, its history has a listed one.
        $moved = $this->order(self::PROCESSING);
        Db::getInstance()->insert('order_history', ['id_order' => $moved['id_order'], 'id_order_state' => self::SHIPPED,
            'date_add' => date('Y-m-d H:i:s', time() - 3600)]);
        self::task($moved['id_order'], 'SYNC_STATUS');
        // Sync switched off: kept for a later run.
        $shop2 = $this->shop('Shop two');
        $this->configureOrderSync($shop2);
        Configuration::updateValue('SHOPPINGFEED_ORDER_SYNC_ENABLED', 0, false, null, $shop2);
        $off = $this->importedOrder($this->token($shop2, 'token-two', 77), ['id_shop' => $shop2, 'state' => self::SHIPPED]);
        self::task($off['id_order'], 'SYNC_STATUS');
        self::task($off['id_order'], 'SOMETHING_ELSE');

        $counts = $this->migrate();
        $this->assertSame(1, $counts['dropped_nothing_to_send']);
        $this->assertSame(1, $counts['SYNC_STATUS']);
        $this->assertSame(1, $counts['kept']);
        $this->assertSame(1, $counts['unknown']);
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($processing['id_order']));
        $this->assertSame(self::SHIPPED, self::rowsOf($moved['id_order'], 'SYNC_STATUS')[0]['payload']['id_order_state']);
        $this->assertEqualsCanonicalizing(['SYNC_STATUS', 'SOMETHING_ELSE'], array_column($this->taskOrders(), 'action'));
        $this->assertSame([], ShoppingfeedOrderSyncQueue::find($off['id_order']));
    }
}
