<?php
/**
 * The stand-ins of today's Shopping Feed module (fixtures/shoppingfeed/)
 * and of PrestaShop (doubles/) behave as the real ones where the order sync
 * is concerned, each run in a child PHP booted from the fake shop's
 * config/config.inc.php:
 *
 * - without the extension, a state change through OrderHistory and Hook
 *   reaches the module's own addOrderTask() and queues a
 *   shoppingfeed_task_order row; its syncOrder and syncAll crons (through
 *   cli.php, index.php and the Dispatcher) run the module's own chains;
 * - with the extension loaded and no takeover installed, the same state
 *   change, and the cron, die on "Cannot declare class
 *   ShoppingfeedOrderSyncActions": why the takeover exists;
 * - PrestaShop's override rules: module class (ShoppingfeedOverride, not
 *   with PS_DISABLE_OVERRIDES) and front controllers (...Override).
 */
final class ModuleStandInTest extends PrestashopTestCase
{
    /** @var int */
    private $idToken;
    /** @var array */
    private $order;

    protected function setUp(): void
    {
        parent::setUp();
        $this->idToken = $this->token();
        $this->order = $this->importedOrder($this->idToken, ['id_carrier' => $this->carrier(), 'tracking_number' => 'TRK-1',
            'reference' => 'AMZ-100', 'marketplace' => 'amazon']);
    }

    private function changeState(int $state): string
    {
        return '$h = new OrderHistory(); $h->changeIdOrderState(' . $state . ', ' . (int) $this->order['id_order'] . ');'
            . ' echo json_encode(["module_class" => get_class(Module::getInstanceByName("shoppingfeed")),'
            . ' "sync_actions_file" => (new ReflectionClass("ShoppingfeedOrderSyncActions"))->getFileName()]);';
    }

    public function testWithoutTheExtensionAListedStateQueuesTheModulesOwnTask(): void
    {
        $run = $this->runInShop($this->changeState(self::SHIPPED), [], ['extension' => false]);

        $this->assertChildOk($run);
        $this->assertSame('', $run['stderr'], 'no warning, no deprecation');
        $this->assertSame('Shoppingfeed', $run['json']['module_class']);
        $this->assertSame($this->root . '/modules/shoppingfeed/classes/actions/ShoppingfeedOrderSyncActions.php', $run['json']['sync_actions_file'],
            'the module\'s own class ran');
        $tasks = $this->taskOrders();
        $this->assertCount(1, $tasks);
        $this->assertSame('SYNC_STATUS', $tasks[0]['action']);
        $this->assertSame((string) $this->order['id_order'], $tasks[0]['id_order']);
        $this->assertNotNull($tasks[0]['update_at']);
        $this->assertSame((string) self::SHIPPED, Db::getInstance()->getValue('SELECT current_state FROM ' . _DB_PREFIX_ . 'orders WHERE id_order = ' . $this->order['id_order']));
        $messages = array_column($this->processLogs(), 'msg');
        $this->assertContains('[Order: ' . $this->order['id_order'] . '] Order registered for synchronization; action SYNC_STATUS', $messages);
    }

    public function testWithoutTheExtensionAnUnlistedStateQueuesNothingAndTheTimeShiftDelaysAShip(): void
    {
        $run = $this->runInShop($this->changeState(self::PROCESSING), [], ['extension' => false]);
        $this->assertChildOk($run);
        $this->assertSame([], $this->taskOrders(), 'state 3 is in no list');

        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT', 30);
        Configuration::updateValue('SHOPPINGFEED_SHIPPED_ORDERS', json_encode([self::SHIPPED]));
        $run = $this->runInShop($this->changeState(self::SHIPPED), [], ['extension' => false]);
        $this->assertChildOk($run);
        $due = strtotime($this->taskOrders()[0]['update_at']);
        $this->assertGreaterThan(time() + 25 * 60, $due, 'a ship waits the global time shift (minutes)');
    }

    public function testWithoutTheExtensionAnInvoiceStateQueuesTheUploadForAnEnabledMarketplace(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_INVOICE_SYNC_MARKETPLACES', json_encode(['Amazon']));
        $run = $this->runInShop($this->changeState(self::PAYMENT_ACCEPTED), [], ['extension' => false]);

        $this->assertChildOk($run);
        $this->assertSame(['UPLOAD_INVOICE'], array_column($this->taskOrders(), 'action'), 'state 2 has the invoice flag, in no list');
    }

    public function testWithoutTheExtensionACreditSlipQueuesAPartialRefund(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ALLOW_PARTIAL_REFUND', 1);
        $run = $this->runInShop('OrderSlip::create(new Order(' . $this->order['id_order'] . '), []);', [], ['extension' => false]);

        $this->assertChildOk($run);
        $this->assertSame(['PARTIAL_REFUND'], array_column($this->taskOrders(), 'action'));
    }

    public function testWithoutTheExtensionAnOrderTheModuleDidNotImportIsIgnored(): void
    {
        $plain = $this->plainOrder();
        $run = $this->runInShop('(new OrderHistory())->changeIdOrderState(' . self::SHIPPED . ', ' . $plain . ');', [], ['extension' => false]);

        $this->assertChildOk($run);
        $this->assertSame([], $this->taskOrders());
    }

    public function testWithoutTheExtensionTheSyncOrderCronRunsTheModulesChains(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_IMPORT_ENABLED', 1);
        $this->assertChildOk($this->runInShop($this->changeState(self::SHIPPED), [], ['extension' => false]));

        $run = $this->runCron('syncOrder', ['extension' => false]);
        $this->assertChildOk($run);
        $this->assertSame(['success' => true], $run['json'], $run['stdout'] . $run['stderr']);
        $this->assertSame('', $run['stderr']);
        $this->assertCount(1, $this->moduleCalls('importOrders'), 'importOrders() ran, once per active token');
        $sent = $this->moduleCalls('sendTaskOrdersSyncStatus');
        $this->assertCount(1, $sent);
        $payload = json_decode($sent[0]['payload'], true);
        $this->assertSame('ship', $payload['operation']);
        $this->assertSame('AMZ-100', $payload['reference_marketplace']);
        $this->assertSame((string) $this->idToken, $sent[0]['id_shoppingfeed_token']);
        $this->assertSame(['CHECK_TICKET_SYNC_STATUS'], array_column($this->taskOrders(), 'action'), 'sent: its ticket is checked next run');
        $this->assertSame([], $this->orderPosts(), 'the stand-in calls no API');
        $monitor = $this->rows('shoppingfeed_processmonitor');
        $this->assertSame('shoppingfeed:syncOrder', $monitor[0]['name']);
        $this->assertNull($monitor[0]['pid'], 'unlocked');

        $this->assertChildOk($this->runCron('syncOrder', ['extension' => false]));
        $this->assertCount(1, $this->moduleCalls('sendTaskOrdersCheckTicketsSyncStatus'));
        $this->assertSame([], $this->taskOrders(), 'a succeeded ticket is deleted');
    }

    public function testTheCronWantsTheSecureKey(): void
    {
        $run = $this->runCron('syncOrder', ['extension' => false, 'secure_key' => 'wrong']);

        $this->assertChildOk($run);
        $this->assertSame(['success' => false, 'error' => 'Authentication failed'], $run['json']);
        $this->assertSame([], $this->moduleCalls());
    }

    public function testWithoutTheExtensionSyncAllRunsProductsThenOrders(): void
    {
        $this->assertChildOk($this->runInShop($this->changeState(self::CANCELLED), [], ['extension' => false]));

        $run = $this->runCron('syncAll', ['extension' => false]);
        $this->assertChildOk($run);
        $this->assertSame(['success' => true], $run['json'], $run['stdout'] . $run['stderr']);
        $steps = array_column($this->moduleCalls(), 'step');
        $this->assertSame('syncProduct', $steps[0]);
        $this->assertContains('sendTaskOrdersSyncStatus', $steps);
        $this->assertSame('cancel', json_decode($this->moduleCalls('sendTaskOrdersSyncStatus')[0]['payload'], true)['operation']);
        $this->assertEqualsCanonicalizing(['shoppingfeed:syncAll', 'shoppingfeed:syncProduct', 'shoppingfeed:syncOrder'],
            array_column($this->rows('shoppingfeed_processmonitor'), 'name'));
    }

    public function testWithTheExtensionAndNoTakeoverAStatusChangeIsFatal(): void
    {
        $run = $this->runInShop($this->changeState(self::SHIPPED));

        $this->assertSame(255, $run['code'], $run['stdout'] . $run['stderr']);
        $this->assertStringContainsString('Cannot declare class ShoppingfeedOrderSyncActions', $run['stderr']);
        $this->assertStringContainsString('modules/shoppingfeed/classes/actions/ShoppingfeedOrderSyncActions.php', $run['stderr']);
        $this->assertSame('', $run['stdout'], 'the request died');
        $this->assertSame([], $this->taskOrders(), 'nothing queued by the module');
        $this->assertSame((string) self::SHIPPED, Db::getInstance()->getValue('SELECT current_state FROM ' . _DB_PREFIX_ . 'orders WHERE id_order = ' . $this->order['id_order']),
            'the state was written before the hook died: the merchant\'s request fails after the change');
    }

    public function testWithTheExtensionAndNoTakeoverTheSyncOrderCronIsFatalAndStaysLocked(): void
    {
        $run = $this->runCron('syncOrder');

        $this->assertSame(255, $run['code'], $run['stdout'] . $run['stderr']);
        $this->assertStringContainsString('Cannot declare class ShoppingfeedOrderSyncActions', $run['stderr'], 'no try of the cron catches it');
        $monitor = $this->rows('shoppingfeed_processmonitor');
        $this->assertNotNull($monitor[0]['pid'], 'the lock is never released: the next runs are refused for an hour');
        $again = $this->runCron('syncOrder');
        $this->assertSame(['success' => false, 'error' => 'Lock return false. Process ID already in run.'], $again['json'], $again['stdout'] . $again['stderr']);
    }

    public function testModuleOverrideRulesOfPrestaShop(): void
    {
        ShopRoot::putFile($this->root, 'override/modules/shoppingfeed/shoppingfeed.php',
            "<?php\nclass ShoppingfeedOverride extends Shoppingfeed\n{\n}\n");
        $code = 'echo json_encode(get_class(Module::getInstanceByName("shoppingfeed")));';

        $this->assertSame('ShoppingfeedOverride', $this->runInShop($code, [], ['extension' => false])['json']);
        Configuration::updateValue('PS_DISABLE_OVERRIDES', 1);
        $this->assertSame('Shoppingfeed', $this->runInShop($code, [], ['extension' => false])['json'], 'PS_DISABLE_OVERRIDES');
    }

    public function testDispatcherUsesTheControllersOverrideClassWhenItsFileExists(): void
    {
        $code = 'echo json_encode(get_class(Dispatcher::getModuleController(null, "shoppingfeed", "syncOrder")));';
        $this->assertSame('ShoppingfeedSyncOrderModuleFrontController', $this->runInShop($code, [], ['extension' => false])['json']);

        ShopRoot::putFile($this->root, 'override/modules/shoppingfeed/controllers/front/syncOrder.php',
            "<?php\nclass ShoppingfeedSyncOrderModuleFrontControllerOverride extends ShoppingfeedSyncOrderModuleFrontController\n{\n}\n");
        $run = $this->runInShop($code, [], ['extension' => false]);
        $this->assertChildOk($run);
        $this->assertSame('ShoppingfeedSyncOrderModuleFrontControllerOverride', $run['json']);

        $syncAll = $this->runInShop('$c = Dispatcher::getModuleController(_PS_ROOT_DIR_, "shoppingfeed", "syncAll");'
            . ' $p = new ReflectionProperty($c, "syncOrderCron"); $p->setAccessible(true); echo json_encode(get_class($p->getValue($c)));', [], ['extension' => false]);
        $this->assertSame('ShoppingfeedSyncOrderModuleFrontController', $syncAll['json'], 'syncAll builds syncOrder itself: no override applies');
    }
}
