<?php

use PHPUnit\Framework\TestCase;

require_once dirname(__DIR__, 2) . '/php/support/StoreAware.php';

/**
 * Base of the reliability tests: a fresh queue per test (a SQLite file, or
 * a MySQL table prefix in mysql runs: TestEnv::newQueueDatabase()), the sandbox
 * reset, and helpers to drive the extension's Actions like classlib does,
 * to drain the queue, and to read the sandbox's account of what it received.
 */
abstract class ReliabilityTestCase extends TestCase
{
    use ShopFixtures;
    use StoreAware;

    const SHIPPED = 4;
    const CANCELLED = 6;
    const REFUNDED = 7;
    const DELIVERED = 5;
    const UNLISTED = 2;
    /** The four listed states, in the order used to spread orders over operations. */
    const STATES = [self::SHIPPED, self::CANCELLED, self::REFUNDED, self::DELIVERED];
    const OPERATION_OF = [self::SHIPPED => 'ship', self::CANCELLED => 'cancel', self::REFUNDED => 'refund', self::DELIVERED => 'deliver'];

    const TOKEN = Sandbox::TOKEN;
    const STORE_ID = Sandbox::STORE_ID;

    /** @var string this test's folder */
    protected $dir;
    /** @var string this test's queue: shoppingfeed_sync.database (a SQLite file path or a mysql:// URL) */
    protected $database;
    /** @var Queue|null */
    private $queue;
    /** @var list<Proc> servers started by the test (stopped in tearDown) */
    protected $servers = [];

    protected function setUp(): void
    {
        parent::setUp();
        $this->dir = TestEnv::newDir(static::class . '-' . $this->getName(false));
        $this->database = TestEnv::newQueueDatabase($this->dir);
        ini_set('shoppingfeed_sync.database', $this->database);
        ini_set('shoppingfeed_sync.api_url', Sandbox::url());
        ini_set('shoppingfeed_sync.timeout_ms', '3000');
        $this->queue = null;
        Sandbox::reset();
    }

    protected function tearDown(): void
    {
        foreach ($this->servers as $p) {
            $p->kill(9);
            $p->wait(5);
        }
        $this->servers = [];
        try {
            Sandbox::reset(); // never leave the sandbox hanging or faulty
        } catch (Throwable $e) {
            // the next setUp reports it
        }
        $this->queue = null;
        parent::tearDown();
    }

    /** The settings of the test shop (conveyor overrides). */
    protected function settings(array $overrides = []): array
    {
        return array_replace([
            'SHOPPINGFEED_SHIPPED_ORDERS' => '[4]',
            'SHOPPINGFEED_CANCELLED_ORDERS' => '[6]',
            'SHOPPINGFEED_REFUNDED_ORDERS' => '[7]',
            'SHOPPINGFEED_DELIVERED_ORDERS' => '[5]',
            'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => '0',
            'SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '0',
            'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0',
        ], $overrides);
    }

    /** The same settings as `--set NAME=VALUE` options of php/tools/bin/sync-orders.php. */
    protected function cliSets(array $overrides = []): array
    {
        $args = [];
        foreach ($this->settings($overrides) as $name => $value) {
            $args[] = '--set';
            $args[] = $name . '=' . (is_array($value) ? json_encode($value) : (string) $value);
        }

        return $args;
    }

    /** The command line of one cron run (php/tools/bin/sync-orders.php, no process lock, JSON summary). */
    protected function cronCommand(array $settings = [], array $extraArgs = []): array
    {
        return array_merge(
            TestEnv::phpCommand(),
            [TestEnv::$root . '/php/tools/bin/sync-orders.php', '--shop=1', '--store-id=' . self::STORE_ID, '--no-lock', '--json'],
            $this->cliSets($settings),
            $extraArgs
        );
    }

    /** @return ShoppingfeedOrderSyncStatusActions */
    protected function actions(array $conveyor)
    {
        $actions = new ShoppingfeedOrderSyncStatusActions();
        $actions->setModelObject(null);
        $actions->setConveyor($conveyor);

        return $actions;
    }

    /** saveOrder of one order (asserts true); returns the conveyor after it. */
    protected function save(int $idOrder, array $order, array $extra = [], array $settings = []): array
    {
        $actions = $this->actions($this->conveyor(['id_order' => $idOrder, 'order' => $order] + $extra, $settings));
        $this->assertTrue($actions->saveOrder(), "saveOrder of order $idOrder");

        return $actions->getConveyor();
    }

    /**
     * Queues $count orders (id_order = internal id = $first..), spread over
     * the four operations unless $state is given.
     *
     * @return array<int, int> id_order => its state
     */
    protected function queueOrders(int $first, int $count, ?int $state = null, array $settings = []): array
    {
        $out = [];
        for ($i = 0; $i < $count; $i++) {
            $id = $first + $i;
            $s = $state ?? self::STATES[$i % 4];
            $this->save($id, $this->snapshot($id, $s), [], $settings);
            $out[$id] = $s;
        }

        return $out;
    }

    /**
     * Calls the methods in order like classlib (stops at the first false).
     *
     * @return array{ok: bool, stopped: string|null, conveyor: array}
     */
    protected function chain(array $methods, array $conveyor): array
    {
        $actions = $this->actions($conveyor);
        foreach ($methods as $method) {
            if (!$actions->$method()) {
                return ['ok' => false, 'stopped' => $method, 'conveyor' => $actions->getConveyor()];
            }
        }

        return ['ok' => true, 'stopped' => null, 'conveyor' => $actions->getConveyor()];
    }

    protected function send(array $settings = [], array $extra = []): array
    {
        return $this->chain(['getBatch', 'prepareBatch', 'sendBatch'], $this->conveyor($extra, $settings));
    }

    protected function check(array $settings = [], array $extra = []): array
    {
        return $this->chain(['getBatch', 'checkTickets'], $this->conveyor(['order_action' => ShoppingfeedOrderSyncQueue::ACTION_CHECK_TICKET_SYNC_STATUS] + $extra, $settings));
    }

    /**
     * Runs send and check chains (making waiting rows due between rounds:
     * test-only time travel) until no row is pending or sent.
     *
     * @return array{rounds: int, chains: int, errors: list<string>, failed: list<int>, pending: int, sent: int}
     */
    protected function drain(array $settings = [], int $maxRounds = 60, bool $timeTravel = true): array
    {
        $out = ['rounds' => 0, 'chains' => 0, 'errors' => [], 'failed' => [], 'pending' => 0, 'sent' => 0];
        for ($round = 0; $round < $maxRounds; $round++) {
            $out['rounds']++;
            foreach (['send', 'check'] as $kind) {
                for ($i = 0; $i < 200; $i++) {
                    $run = $this->$kind($settings);
                    if ($run['stopped'] === 'getBatch') {
                        break;
                    }
                    $out['chains']++;
                    $c = $run['conveyor'];
                    foreach ($c['errors'] ?? [] as $e) {
                        $out['errors'][] = (string) $e;
                    }
                    foreach ($c['failed'] ?? [] as $row) {
                        $out['failed'][] = (int) $row['id_shoppingfeed_order'];
                    }
                    if ($kind === 'check' && empty($c['succeeded']) && empty($c['failed']) && empty($c['pending'])) {
                        break; // only tickets still running: read them next round
                    }
                }
            }
            $counts = $this->queue()->counts();
            $out['pending'] = $counts['pending'];
            $out['sent'] = $counts['sent'];
            if ($counts['pending'] + $counts['sent'] === 0) {
                break;
            }
            if ($timeTravel) {
                $this->queue()->makeDue();
            }
        }

        return $out;
    }

    /**
     * Starts the hostile "API" (fixtures/hostile-server.php under PHP's built-in
     * server); its behaviour is the word written in the returned mode file.
     *
     * @return array{0: string, 1: string} base URL, mode file
     */
    protected function hostileServer(string $mode = 'accept'): array
    {
        $port = Proc::freePort();
        $modeFile = $this->dir . '/hostile.mode';
        file_put_contents($modeFile, $mode);
        $this->servers[] = Proc::start([PHP_BINARY, '-n', '-S', "127.0.0.1:$port", __DIR__ . '/../fixtures/hostile-server.php'], $this->dir, 'hostile', ['HOSTILE_MODE_FILE' => $modeFile]);
        $this->assertTrue(Proc::waitForPort($port), 'the hostile server did not start');

        return ["http://127.0.0.1:$port", $modeFile];
    }

    /**
     * What a process holds of the queue: the SQLite files it has open (the
     * database, -wal, -shm), or its TCP connections to the MySQL server (as
     * "tcp:LOCALPORT"). Empty: the process never opened the queue, or holds
     * nothing of it any more.
     *
     * @return list<string>
     */
    protected function queueHandles(int $pid): array
    {
        if (TestEnv::isMysql()) {
            $port = Queue::mysqlConfig($this->database)['port'];
            // Sockets a child inherited from this test process (proc_open()
            // passes PHP's own descriptors on) are this process's, not its.
            $own = array_diff(Proc::tcpClientPorts($pid, $port), $pid === getmypid() ? [] : Proc::tcpClientPorts(getmypid(), $port));

            return array_values(array_map(static function (int $p) {
                return "tcp:$p";
            }, $own));
        }

        return array_values(array_filter(Proc::openFiles($pid), function (string $file) {
            return strpos($file, $this->database) === 0;
        }));
    }

    protected function queue(): Queue
    {
        if ($this->queue === null) {
            $this->queue = new Queue($this->database);
        }

        return $this->queue;
    }

    /**
     * What the sandbox received, from its stats: elements accepted in order
     * POSTs, distinct (operation, order) pairs ticketed, and the difference:
     * the elements the API got more than once (re-sends).
     *
     * @return array{received: int, distinct: int, resent: int, ignored: int, tickets: array, stats: array}
     */
    protected function sandboxAccount(): array
    {
        $stats = Sandbox::stats();
        $received = array_sum(array_map('intval', (array) ($stats['orders_received'] ?? [])));
        $distinct = count((array) ($stats['ticketed'] ?? []));

        return [
            'received' => $received,
            'distinct' => $distinct,
            'resent' => $received - $distinct,
            'ignored' => (int) ($stats['ignored'] ?? 0),
            'tickets' => (array) ($stats['tickets'] ?? []),
            'stats' => $stats,
        ];
    }

    /**
     * Adds to $sent (tracking number => times) the snapshots of the order
     * POSTs the sandbox accepted since $seq. Read while a test runs: the
     * sandbox keeps the bodies of its last 2,000 requests only.
     */
    protected static function collectAcceptedTracking(int &$seq, array &$sent): void
    {
        foreach (Sandbox::request('GET', '/_sandbox/log?since=' . $seq)['requests'] ?? [] as $entry) {
            $seq = max($seq, (int) $entry['seq']);
            if (($entry['method'] ?? '') !== 'POST' || ($entry['status'] ?? null) !== 202 || strpos((string) $entry['path'], '/order/') === false) {
                continue;
            }
            $body = is_string($entry['body']) ? json_decode($entry['body'], true) : $entry['body'];
            if (!is_array($body)) {
                throw new RuntimeException('the sandbox no longer holds the body of request ' . $entry['seq']);
            }
            foreach ($body['order'] as $el) {
                $sent[$el['trackingNumber']] = ($sent[$el['trackingNumber']] ?? 0) + 1;
            }
        }
    }

    /** The (operation:key) pairs the sandbox ticketed, with how many times. */
    protected function ticketed(): array
    {
        return (array) (Sandbox::stats()['ticketed'] ?? []);
    }

    /** Row ids of a list of rows or ids. */
    protected static function ids(array $rows): array
    {
        $ids = array_map(static function ($row) {
            return is_array($row) ? (int) $row['id_shoppingfeed_order'] : (int) $row;
        }, $rows);
        sort($ids);

        return $ids;
    }

    /**
     * Asserts that no value of $haystacks contains $needle (the token), nor
     * the store's secrets (the MySQL password in mysql runs).
     */
    protected function assertNoSecret(string $secret, array $haystacks, string $what): void
    {
        foreach ($haystacks as $label => $text) {
            $this->assertStringNotContainsString($secret, (string) $text, "$what: the token leaked in $label");
            $this->assertNoStoreSecret((string) $text, "$what, in $label");
        }
    }
}
