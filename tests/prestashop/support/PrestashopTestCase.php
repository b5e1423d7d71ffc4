<?php

use PHPUnit\Framework\TestCase;

/**
 * Base of the tests/prestashop tests. Each test gets:
 *
 * - PrestaShop's and the module's tables (schema.sql, one prefix for the
 *   run: _DB_PREFIX_) emptied, auto-increments back to 1, then:
 *   shop 1 "Shop one" (group 1), PrestaShop's usual order states with their
 *   usual ids (self::AWAITING_PAYMENT = 1 ... self::PAYMENT_ERROR = 8, see
 *   the constants), and the module "shoppingfeed" installed (module row,
 *   hook_module rows of Shoppingfeed::$hooks for shop 1, and the settings:
 *   SHOPPINGFEED_ORDER_SYNC_ENABLED = 1, the four state lists [4] [6] [7]
 *   [5] for shop 1, time shift 0). Override setUpShop() to change that.
 * - $this->root: a fake shop root (ShopRoot::create(): the module's
 *   stand-in in modules/shoppingfeed, empty override/, config/config.inc.php
 *   for child processes), removed after the test (kept with SHOPPINGFEED_KEEP_TMP).
 * - $this->database: a fresh extension queue (shoppingfeed_sync.database:
 *   a SQLite file, or in the mysql pass a table prefix of its own), and
 *   shoppingfeed_sync.api_url = the sandbox, reset.
 * - In this process: Module::$modulesDir / $overrideDir point at the
 *   root, Module's instance cache, Context, Configuration::set() values and
 *   Mail::$sent are reset, Hook::$idShop = 1. Do not load the module's
 *   classes (shoppingfeed.php, its controllers) in this process: each test
 *   has another root, and PHP cannot declare a class twice; run them in a
 *   child process with runInShop() / runCron().
 */
abstract class PrestashopTestCase extends TestCase
{
    /** PrestaShop's usual order states (ids as a fresh PrestaShop 8 install). */
    const AWAITING_PAYMENT = 1;
    const PAYMENT_ACCEPTED = 2;
    const PROCESSING = 3;
    const SHIPPED = 4;
    const DELIVERED = 5;
    const CANCELLED = 6;
    const REFUNDED = 7;
    const PAYMENT_ERROR = 8;
    const SHOP = 1;

    /**
     * PHP code for a child run that stands for an extension build without
     * the refund and invoice classes (one with the status class only):
     * ShoppingfeedOrderSyncTakeover then holds those fields in the module's
     * queue instead of queueing them (ShoppingfeedOrderSyncTakeover::$classes).
     */
    const WITHOUT_FIELD_CLASSES = 'require_once _PS_MODULE_DIR_ . "shoppingfeed/classes/takeover/ShoppingfeedOrderSyncTakeover.php";'
        . ' ShoppingfeedOrderSyncTakeover::$classes = ["SYNC_STATUS" => "ShoppingfeedOrderSyncStatusActions"];' . "\n";

    /** The module's order-sync hooks (Shoppingfeed::$hooks of the stand-in). */
    const MODULE_HOOKS = ['actionValidateOrder', 'actionOrderStatusPostUpdate', 'actionOrderSlipAdd'];

    /** @var string the fake shop root (no trailing slash) */
    protected $root;
    /** @var string this test's temp folder (outside the root) */
    protected $dir;
    /** @var string shoppingfeed_sync.database of this test */
    protected $database;
    /** @var int id_module of shoppingfeed */
    protected $idModule = 0;

    protected function setUp(): void
    {
        parent::setUp();
        $this->dir = TestEnv::newDir(static::class . '-' . $this->getName(false));
        $this->database = TestEnv::newQueueDatabase($this->dir);
        ini_set('shoppingfeed_sync.database', $this->database);
        ini_set('shoppingfeed_sync.api_url', Sandbox::url());
        ini_set('shoppingfeed_sync.timeout_ms', '3000');
        Sandbox::reset();
        self::truncateTables();
        Module::resetInstances();
        Configuration::clearMemory();
        Context::resetContext();
        Mail::reset();
        Hook::$idShop = self::SHOP;
        $this->root = ShopRoot::create();
        Module::$modulesDir = $this->root . '/modules';
        Module::$overrideDir = $this->root . '/override';
        $_GET = [];
        $_POST = [];
        $this->setUpShop();
    }

    protected function tearDown(): void
    {
        try {
            Sandbox::reset();
        } catch (Throwable $e) {
            // the next setUp reports it
        }
        if ($this->root && !getenv('SHOPPINGFEED_KEEP_TMP')) {
            ShopRoot::remove($this->root);
        }
        $_GET = [];
        $_POST = [];
        parent::tearDown();
    }

    /** Shop 1, the usual states, the module installed with its order sync on. */
    protected function setUpShop(): void
    {
        ShopFixture::shop('Shop one', 1);
        $this->createOrderStates();
        $this->installModule();
        $this->configureOrderSync(self::SHOP);
    }

    /** PrestaShop's usual states 1..8 with their flags. */
    protected function createOrderStates(): void
    {
        $states = [
            self::AWAITING_PAYMENT => ['Awaiting check payment', []],
            self::PAYMENT_ACCEPTED => ['Payment accepted', ['paid' => 1, 'invoice' => 1, 'logable' => 1, 'pdf_invoice' => 1]],
            self::PROCESSING => ['Processing in progress', ['paid' => 1, 'invoice' => 1, 'logable' => 1, 'pdf_invoice' => 1]],
            self::SHIPPED => ['Shipped', ['shipped' => 1, 'paid' => 1, 'invoice' => 1, 'logable' => 1, 'delivery' => 1, 'pdf_invoice' => 1]],
            self::DELIVERED => ['Delivered', ['shipped' => 1, 'paid' => 1, 'invoice' => 1, 'logable' => 1, 'delivery' => 1, 'pdf_invoice' => 1]],
            self::CANCELLED => ['Canceled', []],
            self::REFUNDED => ['Refunded', ['paid' => 1, 'invoice' => 1]],
            self::PAYMENT_ERROR => ['Payment error', []],
        ];
        foreach ($states as $id => [$name, $flags]) {
            $got = ShopFixture::orderState($name, array_merge(['logable' => 0], $flags));
            if ($got !== $id) {
                throw new LogicException("order state $name got id $got, not $id");
            }
        }
    }

    /**
     * Installs the module as PrestaShop would, without loading its class
     * here: the `module` row and its hooks (self::MODULE_HOOKS + $extraHooks)
     * for the given shops.
     */
    protected function installModule(array $extraHooks = [], array $shops = [self::SHOP]): int
    {
        $db = Db::getInstance();
        if (!($id = Module::getModuleIdByName('shoppingfeed'))) {
            $db->insert('module', ['name' => 'shoppingfeed', 'active' => 1, 'version' => '2.99.0']);
            $id = $db->Insert_ID();
        }
        foreach (array_merge(self::MODULE_HOOKS, $extraHooks) as $hook) {
            foreach ($shops as $idShop) {
                Hook::register($id, $hook, $idShop);
            }
        }

        return $this->idModule = $id;
    }

    /**
     * The module's order-sync settings: ORDER_SYNC_ENABLED (global), and
     * for $idShop the four lists and the time shift. $overrides: setting
     * name => value (arrays are JSON-encoded), written for $idShop, except
     * SHOPPINGFEED_ORDER_SYNC_ENABLED and SHOPPINGFEED_ORDER_IMPORT_ENABLED (global).
     */
    protected function configureOrderSync(int $idShop, array $overrides = []): void
    {
        $settings = array_replace([
            'SHOPPINGFEED_ORDER_SYNC_ENABLED' => 1,
            'SHOPPINGFEED_SHIPPED_ORDERS' => [self::SHIPPED],
            'SHOPPINGFEED_CANCELLED_ORDERS' => [self::CANCELLED],
            'SHOPPINGFEED_REFUNDED_ORDERS' => [self::REFUNDED],
            'SHOPPINGFEED_DELIVERED_ORDERS' => [self::DELIVERED],
            'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => 0,
        ], $overrides);
        foreach ($settings as $key => $value) {
            $value = is_array($value) ? json_encode(array_values($value)) : $value;
            if (in_array($key, ['SHOPPINGFEED_ORDER_SYNC_ENABLED', 'SHOPPINGFEED_ORDER_IMPORT_ENABLED'], true)) {
                Configuration::updateValue($key, $value);
            } else {
                Configuration::updateValue($key, $value, false, null, $idShop);
            }
        }
    }

    /* ---- data ------------------------------------------------------- */

    protected function shop(string $name, int $idShopGroup = 1): int
    {
        return ShopFixture::shop($name, $idShopGroup);
    }

    /** An active token (shoppingfeed_token row); the sandbox accepts Sandbox::TOKEN for Sandbox::STORE_ID. */
    protected function token(int $idShop = self::SHOP, string $content = Sandbox::TOKEN, int $storeId = Sandbox::STORE_ID, bool $active = true): int
    {
        return ShopFixture::token($idShop, $content, $storeId, $active);
    }

    protected function carrier(string $name = 'Colissimo', string $url = 'https://track.example/?n=@'): int
    {
        return ShopFixture::carrier($name, $url);
    }

    /**
     * An order imported by the module (orders, order_carrier, order_detail,
     * shoppingfeed_order rows): see ShopFixture::importedOrder() for $o.
     *
     * @return array ['id_order', 'id_order_carrier', 'id_shoppingfeed_order', 'id_order_details']
     */
    protected function importedOrder(int $idToken, array $o = []): array
    {
        return ShopFixture::importedOrder($idToken, $o + ['state' => self::PAYMENT_ACCEPTED]);
    }

    /** An order the module did not import (no shoppingfeed_order row). */
    protected function plainOrder(array $o = []): int
    {
        $now = date('Y-m-d H:i:s');
        Db::getInstance()->insert('orders', ['reference' => 'PLAIN' . random_int(1000, 9999), 'id_shop' => (int) ($o['id_shop'] ?? self::SHOP),
            'id_carrier' => (int) ($o['id_carrier'] ?? 0), 'current_state' => (int) ($o['state'] ?? self::PAYMENT_ACCEPTED),
            'payment' => 'Bank wire', 'module' => 'ps_wirepayment', 'date_add' => $now, 'date_upd' => $now]);
        $id = Db::getInstance()->Insert_ID();
        Db::getInstance()->insert('order_carrier', ['id_order' => $id, 'id_carrier' => (int) ($o['id_carrier'] ?? 0),
            'tracking_number' => $o['tracking_number'] ?? '', 'date_add' => $now]);

        return $id;
    }

    /* ---- reading ---------------------------------------------------- */

    /** Rows of a table of this run (name without prefix). */
    protected function rows(string $table, string $where = '1', string $order = ''): array
    {
        return Db::getInstance()->executeS('SELECT * FROM `' . _DB_PREFIX_ . $table . '` WHERE ' . $where . ($order ? ' ORDER BY ' . $order : ''));
    }

    /** The module's own queue: shoppingfeed_task_order rows. */
    protected function taskOrders(): array
    {
        return $this->rows('shoppingfeed_task_order', '1', 'id_shoppingfeed_task_order');
    }

    /** What the module's own sync (the stand-in) did: sftest_module_call rows, optionally of one step. */
    protected function moduleCalls(?string $step = null): array
    {
        return $this->rows('sftest_module_call', $step === null ? '1' : "step = '" . pSQL($step) . "'", 'id_sftest_module_call');
    }

    /** The module's process log (shoppingfeed_processlogger rows: name, msg, level, object_name, object_id). */
    protected function processLogs(): array
    {
        return $this->rows('shoppingfeed_processlogger', '1', 'id_shoppingfeed_processlogger');
    }

    /** Mails "sent" here (Mail::$sent) and by child processes of this root. */
    protected function mails(): array
    {
        return array_merge(Mail::$sent, ShopRoot::mails($this->root));
    }

    /**
     * The extension's queue of this test, read directly (tests/php/support/Queue.php:
     * rows(), counts(), makeDue()...). Only once the extension created it (a first saveOrder).
     */
    protected function queue(): Queue
    {
        return new Queue($this->database);
    }

    /** @see Sandbox::orderPosts() */
    protected function orderPosts(?int $status = null): array
    {
        return Sandbox::orderPosts($status);
    }

    /* ---- child processes -------------------------------------------- */

    /** Places php/module/** and php/override/** in the root as the installer would (see ShopRoot::placeIntegration()). */
    protected function placeIntegration(): void
    {
        ShopRoot::placeIntegration($this->root);
    }

    /**
     * Runs PHP code (or a PHP file) in a child process booted like the shop:
     * <root>/config/config.inc.php is included first (stand-ins, database,
     * the module's autoload), with the extension loaded and this test's
     * queue and sandbox (unless 'extension' => false).
     *
     * @param string $code   PHP code (with or without a leading "<?php"), or the path of an existing .php file
     * @param array  $args   command-line arguments ($argv[1..] in the child)
     * @param array  $options 'extension' => bool (default true), 'ini' => [name => value] (extra -d),
     *                        'env' => [name => value], 'timeout' => seconds (default 60),
     *                        'boot' => bool (default true: include config.inc.php before $code;
     *                        ignored for a file)
     *
     * @return array{code: int, stdout: string, stderr: string, json: mixed} json = stdout decoded (null when not JSON)
     */
    protected function runInShop(string $code, array $args = [], array $options = []): array
    {
        if (preg_match('/\.php$/', $code) && is_file($code)) {
            $script = $code;
        } else {
            $body = preg_replace('/^\s*<\?php\s*/', '', $code);
            $boot = ($options['boot'] ?? true) ? 'require ' . var_export($this->root . '/config/config.inc.php', true) . ";\n" : '';
            $script = $this->dir . '/child-' . bin2hex(random_bytes(4)) . '.php';
            file_put_contents($script, "<?php\n" . $boot . $body . "\n");
        }
        $ini = ['error_reporting' => '-1', 'display_errors' => 'stderr', 'log_errors' => '0'] + ($options['ini'] ?? []);
        if ($options['extension'] ?? true) {
            $cmd = TestEnv::phpCommand($ini);
        } else {
            $cmd = [PHP_BINARY];
            foreach ($ini as $name => $value) {
                $cmd[] = '-d';
                $cmd[] = TestEnv::iniArg($name, (string) $value);
            }
        }
        $cmd[] = $script;
        foreach ($args as $a) {
            $cmd[] = (string) $a;
        }
        [$exit, $out, $err] = TestEnv::run($cmd, $options['env'] ?? [], (float) ($options['timeout'] ?? 60));
        $json = json_decode(trim($out), true);

        return ['code' => $exit, 'stdout' => $out, 'stderr' => $err, 'json' => $json];
    }

    /**
     * Runs one of the module's crons as `php modules/shoppingfeed/cli.php
     * controller=<c> secure_key=<key>` does (index.php, the Dispatcher,
     * overrides included). Options as runInShop(); 'secure_key' to send another key.
     */
    protected function runCron(string $controller, array $options = []): array
    {
        return $this->runInShop($this->root . '/modules/shoppingfeed/cli.php',
            ['controller=' . $controller, 'secure_key=' . ($options['secure_key'] ?? ShopRoot::secureKey()), 'ssl=off'], $options);
    }

    /** Asserts a child run exited 0, with its output in the message. */
    protected function assertChildOk(array $run, string $message = ''): void
    {
        $this->assertSame(0, $run['code'], ($message ? $message . "\n" : '') . "exit {$run['code']}\nstdout: {$run['stdout']}\nstderr: {$run['stderr']}");
    }

    /* ---- tables ----------------------------------------------------- */

    /** Empties every table of this run's prefix (auto-increments back to 1). */
    protected static function truncateTables(): void
    {
        $db = Db::getInstance();
        $tables = array_map(static function ($row) {
            return reset($row);
        }, $db->executeS("SHOW TABLES LIKE '" . str_replace('_', '\\_', _DB_PREFIX_) . "%'"));
        foreach ($tables as $table) {
            $db->execute('TRUNCATE TABLE `' . $table . '`');
        }
    }
}
