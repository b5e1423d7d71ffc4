<?php

/**
 * The syncOrderPostImport controller end to end: classlib's CronController
 * (double) -> processCron -> ActionsHandler -> the extension -> the sandbox,
 * per shop, with the merchant's mail.
 */
final class CronControllerTest extends SyncTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        Shop::setShops([1, 2, 3]);
        foreach ([
            'SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED' => '1',
            'SHOPPINGFEED_SHIPPED_ORDERS' => '[4]',
            'SHOPPINGFEED_CANCELLED_ORDERS' => '[6]',
            'SHOPPINGFEED_REFUNDED_ORDERS' => '[7]',
            'SHOPPINGFEED_DELIVERED_ORDERS' => '[5]',
            'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => '0',
            'SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '0',
            'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0',
            'SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS' => '1',
            'PS_SHOP_EMAIL' => 'merchant@example.com',
            'PS_SHOP_NAME' => 'Demo shop',
            'PS_LANG_DEFAULT' => '1',
        ] as $key => $value) {
            Configuration::updateValue($key, $value);
        }
        foreach ([1, 2] as $idShop) {
            Configuration::updateValue('SHOPPINGFEED_AUTH_TOKEN', self::TOKEN, false, null, $idShop);
            Configuration::updateValue('SHOPPINGFEED_STORE_ID', (string) self::STORE_ID, false, null, $idShop);
        }
    }

    /** Saves through Configuration only (no conveyor settings), like the hook. */
    private function queue(int $idOrder, array $snapshot, int $idShop = 1): void
    {
        $actions = $this->actions(['id_order' => $idOrder, 'id_shop' => $idShop, 'order_action' => 'SYNC_STATUS', 'order' => $snapshot]);
        $this->assertTrue($actions->saveOrder());
    }

    private function runCron(array $data = [], string $key = 'cron-secure-key', ?ShoppingfeedSyncOrderPostImportModuleFrontController $controller = null): array
    {
        $controller = $controller ?? new ShoppingfeedSyncOrderPostImportModuleFrontController();
        $json = $controller->run(['secure_key' => $key], $data);
        $answer = json_decode($json, true);
        $this->assertIsArray($answer, 'the controller answers JSON: ' . $json);

        return ['status' => $controller->status, 'answer' => $answer, 'json' => $json];
    }

    public function testEndToEndAcrossShopsWithTheMerchantsMail(): void
    {
        for ($i = 1; $i <= 5; $i++) {
            $this->queue($i, $this->snapshot(100 + $i, self::SHIPPED, $i === 3 ? ['tracking_number' => '', 'tracking_url' => ''] : []));
        }
        for ($i = 11; $i <= 13; $i++) {
            $this->queue($i, $this->legacySnapshot('CD-' . $i, 'cdiscount', self::CANCELLED), 2);
        }
        $this->queue(21, $this->snapshot(121, self::DELIVERED), 3);

        // Run 1: check (nothing yet), then send.
        $first = $this->runCron();
        $this->assertSame(200, $first['status']);
        $this->assertTrue($first['answer']['success']);
        $summary = $first['answer']['data']['summary'];
        $this->assertSame('done', $summary[1]['status']);
        $this->assertSame(5, $summary[1]['sent']);
        $this->assertSame(3, $summary[2]['sent']);
        $this->assertSame('skipped', $summary[3]['status'], 'shop 3 has no token');
        $this->assertSame(0, $summary[3]['sent']);
        foreach (['sent', 'succeeded', 'failed', 'pending', 'errors', 'iterations'] as $key) {
            $this->assertArrayHasKey($key, $summary[1], "the summary has $key");
            $this->assertIsInt($summary[1][$key]);
        }
        $this->assertGreaterThanOrEqual(1, $summary[1]['iterations']);
        $this->assertSame([], Mail::$sent, 'nothing failed yet');
        $this->assertSame(8, Sandbox::stats()['orders_received']['ship'] + Sandbox::stats()['orders_received']['cancel']);

        // Run 2: the tickets: 7 succeed, the order without tracking number fails (MAX_ATTEMPTS 1).
        $second = $this->runCron();
        $summary = $second['answer']['data']['summary'];
        $this->assertSame(4, $summary[1]['succeeded']);
        $this->assertSame(1, $summary[1]['failed']);
        $this->assertSame(3, $summary[2]['succeeded']);
        $this->assertSame(0, $summary[1]['sent'], 'nothing new to send');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_FAILED, $this->rowOf(3)['state']);

        $this->assertCount(1, Mail::$sent, 'one mail for the run');
        $mail = Mail::$sent[0];
        $this->assertSame('merchant@example.com', $mail['to']);
        $this->assertSame('order-sync-failed', $mail['template']);
        $this->assertSame(1, $mail['id_lang']);
        $this->assertSame(1, $mail['template_vars']['{failed_count}']);
        $this->assertSame('3', (string) $mail['template_vars']['{failed_order_ids}']);
        $this->assertStringContainsString('Order #3', $mail['template_vars']['{failed_orders_txt}']);
        $this->assertStringContainsString($this->rowOf(3)['last_error'], $mail['template_vars']['{failed_orders_txt}'], 'with the API\'s message');
        $this->assertFileExists($mail['template_path'] . 'en/order-sync-failed.html', 'the module ships the template');
        $this->assertFileExists($mail['template_path'] . 'en/order-sync-failed.txt');
        $this->assertSame(1, count($second['answer']['data']['failed_orders']));

        // Run 3: nothing left; no second mail.
        $third = $this->runCron();
        $this->assertSame(0, $third['answer']['data']['totals']['sent']);
        $this->assertSame(0, $third['answer']['data']['totals']['succeeded']);
        $this->assertCount(1, Mail::$sent, 'a failed row is mailed once');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(21)['state'], 'shop 3\'s row waits for a token');
        $this->assertEquals(['pending' => 0, 'sent' => 0, 'done' => 4, 'failed' => 1], ShoppingfeedOrderSyncQueue::counts(1));
        $this->assertStringNotContainsString(self::TOKEN, $first['json'] . $second['json'] . $third['json'], 'the token is never in the answer');
        $this->assertNoStoreSecret($first['json'] . $second['json'] . $third['json'] . PrestaShopLogger::text(), 'the answers and the logs');
    }

    public function testWrongSecureKeyRunsNothing(): void
    {
        $this->queue(1, $this->snapshot(101, self::CANCELLED));
        $result = $this->runCron([], 'guess');
        $this->assertSame(403, $result['status']);
        $this->assertFalse($result['answer']['success']);
        $this->assertSame([], Sandbox::apiRequests());
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(1)['state']);
    }

    public function testAFreshLockRefusesTheRunAndAStaleOneDoesNot(): void
    {
        $this->queue(1, $this->snapshot(101, self::CANCELLED));
        $controller = new ShoppingfeedSyncOrderPostImportModuleFrontController();
        @mkdir(dirname($controller->lockFile()), 0700, true);
        file_put_contents($controller->lockFile(), json_encode(['locked_at' => time() - 60, 'pid' => 999999, 'data' => []]));
        $refused = $this->runCron([], 'cron-secure-key', $controller);
        $this->assertSame(409, $refused['status'], 'another run holds the lock');
        $this->assertSame([], Sandbox::apiRequests());

        file_put_contents($controller->lockFile(), json_encode(['locked_at' => time() - 7200, 'pid' => 999999, 'data' => []]));
        $ran = $this->runCron([], 'cron-secure-key', $controller);
        $this->assertSame(200, $ran['status'], 'a lock older than an hour is a dead run\'s');
        $this->assertSame(1, $ran['answer']['data']['summary'][1]['sent']);

        $again = $this->runCron([], 'cron-secure-key', $controller);
        $this->assertSame(200, $again['status'], 'the lock was released at the end');
    }

    public function testDisabledSyncSendsNothing(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED', '0');
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_SYNC_ENABLED', '1', false, null, 2);
        $this->queue(1, $this->snapshot(101, self::CANCELLED));
        $this->queue(2, $this->snapshot(102, self::CANCELLED), 2);
        $summary = $this->runCron()['answer']['data']['summary'];
        $this->assertSame('disabled', $summary[1]['status']);
        $this->assertSame(0, $summary[1]['sent']);
        $this->assertSame(1, $summary[2]['sent'], 'the switch is read per shop');
        $this->assertSame(['102'], self::elementKeys(Sandbox::orderPosts()));
    }

    public function testARejectedTokenStopsThatShopOnly(): void
    {
        $badToken = 'expired-' . bin2hex(random_bytes(5));
        Configuration::updateValue('SHOPPINGFEED_AUTH_TOKEN', $badToken, false, null, 1);
        $this->queue(1, $this->snapshot(101, self::CANCELLED));
        $this->queue(2, $this->snapshot(102, self::CANCELLED), 2);
        $result = $this->runCron();
        $this->assertSame(200, $result['status']);
        $summary = $result['answer']['data']['summary'];
        $this->assertSame('error', $summary[1]['status']);
        $this->assertStringContainsString('ShoppingfeedApiException', $summary[1]['message']);
        $this->assertGreaterThanOrEqual(1, $summary[1]['errors']);
        $this->assertSame('done', $summary[2]['status'], 'the next shop is processed');
        $this->assertSame(1, $summary[2]['sent']);
        $row = $this->rowOf(1);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $row['state']);
        $this->assertSame(0, $row['attempts']);
        $this->assertNotEmpty(PrestaShopLogger::$logs, 'the error is logged');
        $this->assertStringNotContainsString($badToken, $result['json'] . PrestaShopLogger::text(), 'never the token');
        $this->assertNoStoreSecret($result['json'] . PrestaShopLogger::text(), 'the answer and the logs');
    }

    public function testShopsAndTimeBudgetFromData(): void
    {
        $this->queue(1, $this->snapshot(101, self::CANCELLED));
        $this->queue(2, $this->snapshot(102, self::CANCELLED), 2);
        $summary = $this->runCron(['shops' => [2]])['answer']['data']['summary'];
        $this->assertSame([2], array_keys($summary));
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(1)['state']);

        $result = $this->runCron(['time_budget' => 0]);
        $this->assertTrue($result['answer']['data']['out_of_time']);
        $this->assertSame(0, $result['answer']['data']['totals']['sent'], 'no chain starts without time');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_PENDING, $this->rowOf(1)['state']);
    }

    public function testTheSendChainRepeatsWhileRowsAreDue(): void
    {
        Configuration::updateValue('SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS', '10');
        for ($i = 1; $i <= 35; $i++) {
            $this->queue($i, $this->snapshot(1000 + $i, self::DELIVERED));
        }
        $summary = $this->runCron(['shops' => [1]])['answer']['data']['summary'][1];
        $this->assertSame(35, $summary['sent']);
        $this->assertSame(4, $summary['actions']['SYNC_STATUS']['iterations'], '4 send chains of at most 10 rows');
        $this->assertCount(4, Sandbox::orderPosts(202));

        $summary = $this->runCron(['shops' => [1]])['answer']['data']['summary'][1];
        $this->assertSame(35, $summary['succeeded'], 'the check chain repeats too');
        $this->assertSame(35, $summary['checked']);
    }

    public function testTicketsStillRunningEndTheCheckLoop(): void
    {
        Sandbox::config(['ticket_delay_ms' => 60000]);
        $this->queue(1, $this->snapshot(101, self::CANCELLED));
        $this->runCron(['shops' => [1]]);
        $started = microtime(true);
        $summary = $this->runCron(['shops' => [1]])['answer']['data']['summary'][1];
        $this->assertLessThan(5, microtime(true) - $started, 'no endless loop on unfinished tickets');
        $this->assertSame(1, $summary['checked']);
        $this->assertSame(0, $summary['succeeded']);
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $this->rowOf(1)['state']);
    }

    public function testEveryRegisteredActionIsProcessed(): void
    {
        $module = $this->dir . '/module/';
        mkdir($module . 'classes/actions', 0700, true);
        copy(TestEnv::moduleDir() . 'classes/actions/ShoppingfeedOrderSyncStatusActions.php', $module . 'classes/actions/ShoppingfeedOrderSyncStatusActions.php');
        foreach (['Refund', 'Invoice'] as $field) {
            $file = 'classes/actions/ShoppingfeedOrderSync' . $field . 'Actions.php';
            copy(TestEnv::moduleDir() . $file, $module . $file);
        }
        copy(TestEnv::moduleDir() . 'classes/ShoppingfeedOrderSyncExtensionCheck.php', $module . 'classes/ShoppingfeedOrderSyncExtensionCheck.php');
        file_put_contents($module . 'classes/actions/ShoppingfeedOrderSyncCarrierActions.php', "<?php\nrequire_once " . var_export(__DIR__ . '/fixtures/ShoppingfeedOrderSyncCarrierActions.php', true) . ";\n");
        ActionsHandler::$moduleDir = $module;
        ShoppingfeedOrderSyncCarrierActions::reset();

        $this->queue(1, $this->snapshot(101, self::CANCELLED));
        $carrier = $this->actions(['id_order' => 1, 'id_shop' => 1, 'order_action' => 'SYNC_CARRIER', 'order' => ['id_internal_shoppingfeed' => 101, 'carrier' => 'UPS']]);
        $this->assertTrue($carrier->saveOrder());

        $summary = $this->runCron(['shops' => [1]], 'cron-secure-key', new CarrierAwareSyncController())['answer']['data']['summary'][1];
        $this->assertSame(['SYNC_STATUS', 'SYNC_REFUND', 'SYNC_INVOICE', 'SYNC_CARRIER'], array_keys($summary['actions']));
        $this->assertSame(1, $summary['actions']['SYNC_STATUS']['sent']);
        $this->assertSame(1, $summary['actions']['SYNC_CARRIER']['iterations']);
        $states = array_column(ShoppingfeedOrderSyncQueue::find(1), 'state', 'action');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_DONE, $states['SYNC_CARRIER'], 'the carrier chain ran through classlib\'s class resolution');
        $this->assertSame(ShoppingfeedOrderSyncQueue::STATE_SENT, $states['CHECK_TICKET_SYNC_STATUS']);
        $this->assertContains('ShoppingfeedOrderSyncCarrierActions', ActionsHandler::$instantiated);
    }
}

/** The controller with a second field registered the seed's way. */
class CarrierAwareSyncController extends ShoppingfeedSyncOrderPostImportModuleFrontController
{
    protected function getActions($idShop)
    {
        $actions = parent::getActions($idShop);
        $actions[ShoppingfeedOrderSyncCarrierActions::ACTION_SYNC_CARRIER] = ['actions_suffix' => 'Carrier'];

        return $actions;
    }
}
