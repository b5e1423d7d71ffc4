<?php

use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/StoreAware.php';

/**
 * Base of every suite: a fresh queue per test (a SQLite file, or a MySQL
 * table prefix in mysql runs: TestEnv::newQueueDatabase()), the sandbox reset,
 * the PrestaShop doubles emptied, and helpers to drive the extension's
 * Actions the way classlib does.
 */
abstract class SyncTestCase extends TestCase
{
    use ShopFixtures;
    use StoreAware;

    /** Order states of the test shop's four lists, and one in no list. */
    const SHIPPED = 4;
    const CANCELLED = 6;
    const REFUNDED = 7;
    const DELIVERED = 5;
    const UNLISTED = 2;

    const TOKEN = Sandbox::TOKEN;
    const STORE_ID = Sandbox::STORE_ID;

    /** @var string this test's folder */
    protected $dir;
    /** @var string this test's queue: shoppingfeed_sync.database (a SQLite file path or a mysql:// URL) */
    protected $database;

    protected function setUp(): void
    {
        parent::setUp();
        $this->dir = TestEnv::newDir(static::class . '-' . $this->getName(false));
        $this->database = TestEnv::newQueueDatabase($this->dir);
        ini_set('shoppingfeed_sync.database', $this->database);
        ini_set('shoppingfeed_sync.api_url', Sandbox::url());
        ini_set('shoppingfeed_sync.timeout_ms', '3000');
        Sandbox::reset();
        Configuration::reset();
        Shop::reset();
        Mail::reset();
        PrestaShopLogger::reset();
        Hook::reset();
        ActionsHandler::reset();
        ActionsHandler::$moduleDir = TestEnv::moduleDir();
        ActionsHandler::$overrideDir = '';
        CronController::$secureKey = 'cron-secure-key';
        CronController::$lockDir = $this->dir . '/locks';
    }

    protected function tearDown(): void
    {
        // A test that switched the sandbox to "hang" must not leave it so.
        try {
            Sandbox::reset();
        } catch (Throwable $e) {
            // reported by the next setUp
        }
        parent::tearDown();
    }

    /** The shop's settings as conveyor overrides (native types and PrestaShop strings mixed on purpose). */
    protected function settings(array $overrides = []): array
    {
        return array_replace([
            'SHOPPINGFEED_SHIPPED_ORDERS' => '[4]',
            'SHOPPINGFEED_CANCELLED_ORDERS' => '[6]',
            'SHOPPINGFEED_REFUNDED_ORDERS' => [7],
            'SHOPPINGFEED_DELIVERED_ORDERS' => '[5]',
            'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => 0,
            'SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '0',
            'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0',
        ], $overrides);
    }

    /** A snapshot named by the legacy pair reference + marketplace. */
    protected function legacySnapshot(string $reference, string $marketplace, int $state, array $extra = []): array
    {
        return array_replace([
            'reference' => $reference,
            'marketplace' => $marketplace,
            'id_order_state' => $state,
            'carrier' => 'DHL',
            'tracking_number' => 'L-' . $reference,
            'tracking_url' => 'https://dhl.example/L-' . $reference,
        ], $extra);
    }

    /**
     * @return ShoppingfeedOrderSyncActions
     */
    protected function actions(array $conveyor, string $class = 'ShoppingfeedOrderSyncStatusActions')
    {
        $actions = new $class();
        $actions->setModelObject(null);
        $actions->setConveyor($conveyor);

        return $actions;
    }

    /**
     * saveOrder for one order; asserts it returned true; returns the conveyor after it.
     */
    protected function save(int $idOrder, array $order, array $extra = [], array $settings = [], string $class = 'ShoppingfeedOrderSyncStatusActions'): array
    {
        $actions = $this->actions($this->conveyor(['id_order' => $idOrder, 'order' => $order] + $extra, $settings), $class);
        $this->assertTrue($actions->saveOrder(), "saveOrder of order $idOrder returned false");

        return $actions->getConveyor();
    }

    /**
     * Calls the methods in order like classlib (stops at the first false).
     *
     * @return array{ok: bool, stopped: string|null, conveyor: array}
     */
    protected function chain(array $methods, array $conveyor, string $class = 'ShoppingfeedOrderSyncStatusActions'): array
    {
        $actions = $this->actions($conveyor, $class);
        foreach ($methods as $method) {
            if (!$actions->$method()) {
                return ['ok' => false, 'stopped' => $method, 'conveyor' => $actions->getConveyor()];
            }
        }

        return ['ok' => true, 'stopped' => null, 'conveyor' => $actions->getConveyor()];
    }

    /** One send chain: getBatch, prepareBatch, sendBatch (SYNC_STATUS). */
    protected function send(array $extra = [], array $settings = []): array
    {
        return $this->chain(['getBatch', 'prepareBatch', 'sendBatch'], $this->conveyor($extra, $settings));
    }

    /** One check chain: getBatch, checkTickets (CHECK_TICKET_SYNC_STATUS). */
    protected function check(array $extra = [], array $settings = []): array
    {
        return $this->chain(
            ['getBatch', 'checkTickets'],
            $this->conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS] + $extra, $settings)
        );
    }

    /**
     * Send chains until getBatch finds nothing; returns their results.
     *
     * @return list<array>
     */
    protected function sendAll(array $extra = [], array $settings = [], int $max = 50): array
    {
        $runs = [];
        for ($i = 0; $i < $max; $i++) {
            $run = $this->send($extra, $settings);
            if ($run['stopped'] === 'getBatch') {
                return $runs;
            }
            $runs[] = $run;
        }
        $this->fail("the send chain still claimed rows after $max runs");
    }

    /** Check chains until getBatch finds nothing (or nothing changes). */
    protected function checkAll(array $extra = [], array $settings = [], int $max = 50): array
    {
        $runs = [];
        for ($i = 0; $i < $max; $i++) {
            $run = $this->check($extra, $settings);
            if ($run['stopped'] === 'getBatch') {
                return $runs;
            }
            $runs[] = $run;
            $c = $run['conveyor'];
            if (empty($c['succeeded']) && empty($c['failed']) && empty($c['pending'])) {
                return $runs;
            }
        }

        return $runs;
    }

    /** The one queue row of an order. */
    protected function rowOf(int $idOrder): array
    {
        $rows = ShoppingfeedOrderSyncQueue::find($idOrder);
        $this->assertCount(1, $rows, "order $idOrder should have exactly one queue row");

        return $rows[0];
    }

    /** A comparable picture of the queue: counts of shops and the rows of some orders. */
    protected function queueState(array $idOrders, array $idShops = [1, 2]): array
    {
        $state = [];
        foreach ($idShops as $idShop) {
            $state['counts'][$idShop] = ShoppingfeedOrderSyncQueue::counts($idShop);
        }
        foreach ($idOrders as $idOrder) {
            $state['rows'][$idOrder] = ShoppingfeedOrderSyncQueue::find($idOrder);
        }

        return $state;
    }

    /** A row date ('Y-m-d H:i:s', UTC) as a Unix time. */
    protected function utc(string $date): int
    {
        $dt = DateTime::createFromFormat('Y-m-d H:i:s', $date, new DateTimeZone('UTC'));
        $this->assertNotFalse($dt, "'$date' is not a Y-m-d H:i:s date");

        return $dt->getTimestamp();
    }

    /** Row ids of a list of rows. */
    protected static function ids(array $rows): array
    {
        $ids = array_map(static function ($row) {
            return is_array($row) ? (int) $row['id_shoppingfeed_order'] : (int) $row;
        }, $rows);
        sort($ids);

        return $ids;
    }

    /** The internal ids (or references) named by the elements of order POSTs. */
    protected static function elementKeys(array $posts): array
    {
        $keys = [];
        foreach ($posts as $post) {
            foreach ($post['elements'] as $element) {
                $keys[] = isset($element['id']) ? (string) $element['id'] : (string) ($element['reference'] ?? '?');
            }
        }
        sort($keys);

        return $keys;
    }
}
