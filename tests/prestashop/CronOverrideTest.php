<?php
/**
 * The module's syncOrder and syncAll crons with our overrides in place
 * (php/override/modules/shoppingfeed/controllers/front/), against the real
 * extension and the sandbox API: two tokens = two Shopping Feed stores in
 * one shop, and a third token the API refuses.
 *
 * Each run is a PHP process of its own (the extension's settings are read
 * at start, and the module's stand-in classes differ between runs): a
 * child script written by this test boots a stand-in of the module (its
 * cron base class, syncOrder with importOrders() and its own
 * syncOrderStatus(), syncAll building syncOrder in its constructor and
 * running processCron by reflection, ShoppingfeedToken::findAllActive()),
 * classlib's stand-ins of tests/php/doubles, and loads the controllers the
 * way PrestaShop's Dispatcher does (the module's file, then the override
 * file; the ...Override class when it exists).
 *
 * Our classes come from php/module (copied as the installer places them),
 * except the sweep and the task-order migration, which read PrestaShop's
 * tables: this test has no database, so they are small stand-ins here
 * (EndToEndTest runs the real ones on MariaDB).
 *
 * Orders are queued with ShoppingfeedOrderSyncStatusActions::saveOrder and
 * shoppingfeed_store_id: the extension tags each row with its store, and
 * the cron for one token claims only its store's rows (extension >= the
 * store tag: schema 2).
 */

use PHPUnit\Framework\TestCase;

final class CronOverrideTest extends TestCase
{
    /** @var string */
    private $dir;
    /** @var string */
    private $repo;

    protected function setUp(): void
    {
        $this->repo = dirname(__DIR__, 2);
        foreach ([$this->extension(), $this->sandboxBin()] as $file) {
            if (!is_file($file)) {
                $this->markTestSkipped('not built: ' . $file);
            }
        }
        $this->dir = sys_get_temp_dir() . '/sf-cron-override-' . bin2hex(random_bytes(4));
        mkdir($this->dir . '/modules', 0700, true);
        $this->placeModule();
    }

    protected function tearDown(): void
    {
        if ($this->dir && is_dir($this->dir)) {
            $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($this->dir, FilesystemIterator::SKIP_DOTS), RecursiveIteratorIterator::CHILD_FIRST);
            foreach ($it as $f) {
                $f->isDir() ? rmdir($f->getPathname()) : unlink($f->getPathname());
            }
            rmdir($this->dir);
        }
    }

    public function testSyncOrderSendsEachStoresOrdersWithItsOwnTokenAndARefusedTokenStopsOnlyItsStore(): void
    {
        $out = $this->child('syncOrder');
        $this->assertTrue($out['import_ran'], 'the module\'s importOrders() still runs');
        $this->assertFalse($out['parent_sync_ran'], 'the module\'s own order sync is not run');
        $this->assertStoresServed($out);
    }

    public function testSyncAllRunsTheSameThroughItsOwnSyncOrderController(): void
    {
        $out = $this->child('syncAll');
        $this->assertSame('ShoppingfeedSyncOrderModuleFrontControllerOverride', $out['sync_order_class']);
        $this->assertTrue($out['import_ran']);
        $this->assertFalse($out['parent_sync_ran']);
        $this->assertStoresServed($out);
    }

    public function testWithoutTheExtensionTheModulesOwnSyncRuns(): void
    {
        $out = $this->child('syncOrder', false);
        $this->assertTrue($out['import_ran']);
        $this->assertTrue($out['parent_sync_ran'], 'parent::syncOrderStatus(): the module\'s own chains');
        $this->assertSame([], $out['posts']);
    }

    private function assertStoresServed(array $out): void
    {
        $byPath = [];
        foreach ($out['posts'] as $post) {
            $ids = array_column($post['elements'], 'id');
            sort($ids);
            $byPath[$post['path']] = ['ids' => $ids, 'auth_ok' => $post['auth_ok'], 'status' => $post['status']];
        }
        $this->assertSame([101, 103], $byPath['/v1/store/11/order/ship']['ids'] ?? null, 'store 11 gets its own orders only: ' . json_encode($out));
        $this->assertTrue($byPath['/v1/store/11/order/ship']['auth_ok']);
        $this->assertSame([102], $byPath['/v1/store/22/order/ship']['ids'] ?? null, 'store 22 gets its own order only');
        $this->assertTrue($byPath['/v1/store/22/order/ship']['auth_ok']);
        $this->assertSame(403, $byPath['/v1/store/33/order/ship']['status'] ?? null, 'the refused token asked for its store only');
        // The sandbox refuses the token before it reads the body (no elements recorded): the order of the
        // refused store went to no other store, and stays pending below.
        $this->assertCount(3, $byPath, 'one request per store: ' . json_encode(array_keys($byPath)));

        $summary = $out['summary']['summary'];
        $this->assertSame('done', $summary['token-1']['status']);
        $this->assertSame(2, $summary['token-1']['sent']);
        $this->assertSame('done', $summary['token-2']['status']);
        $this->assertSame(1, $summary['token-2']['sent']);
        $this->assertSame('error', $summary['token-3']['status'], 'the refused token stops its store');
        $this->assertSame(33, $summary['token-3']['shoppingfeed_store_id']);
        $this->assertSame('pending', $out['states'][4], 'the refused store\'s order waits for the next run');
        $this->assertSame('sent', $out['states'][1]);
        foreach (['token-store-11', 'token-store-22', 'token-refused'] as $token) {
            $this->assertStringNotContainsString($token, $out['log'], 'no token in the process log');
        }
        $this->assertStringContainsString('Order sync run: 3 shop(s)', $out['log']);
    }

    /* ------------------------------------------------------------------ */

    private function extension(): string
    {
        return getenv('SHOPPINGFEED_SYNC_EXT') ?: $this->repo . '/target/release/libshoppingfeed_sync.so';
    }

    private function sandboxBin(): string
    {
        return getenv('SHOPPINGFEED_SANDBOX_BIN') ?: $this->repo . '/target/release/sf-sandbox';
    }

    /** Runs one cron in a child PHP; returns what it reported. */
    private function child(string $controller, bool $withExtension = true): array
    {
        $cmd = [PHP_BINARY, '-d', 'error_reporting=-1', '-d', 'display_errors=stderr'];
        if ($withExtension) {
            $cmd = array_merge($cmd, ['-d', 'extension=' . $this->extension(), '-d', 'shoppingfeed_sync.database=' . $this->dir . '/queue.sqlite']);
        }
        $cmd = array_merge($cmd, [$this->dir . '/child.php', $controller]);
        $env = getenv();
        $env['SFTEST_DIR'] = $this->dir;
        $env['SFTEST_REPO'] = $this->repo;
        $env['SFTEST_SANDBOX_BIN'] = $this->sandboxBin();
        $proc = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        fclose($pipes[0]);
        $stdout = (string) stream_get_contents($pipes[1]);
        $stderr = (string) stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        $code = proc_close($proc);
        $this->assertSame(0, $code, "child failed:\n" . $stdout . "\n" . $stderr);
        $out = json_decode($stdout, true);
        $this->assertIsArray($out, $stdout . $stderr);
        $out['log'] = $stderr . json_encode($out['process_log'] ?? []);

        return $out;
    }

    /** modules/shoppingfeed as the installer leaves it: our classes beside the module's stand-in. */
    private function placeModule(): void
    {
        $module = $this->dir . '/modules/shoppingfeed';
        $src = $this->repo . '/php/module';
        $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($src, FilesystemIterator::SKIP_DOTS));
        foreach ($it as $f) {
            $target = $module . substr($f->getPathname(), strlen($src));
            if (!is_dir(dirname($target))) {
                mkdir(dirname($target), 0700, true);
            }
            copy($f->getPathname(), $target);
        }
        $takeover = $module . '/classes/takeover/';
        if (!is_dir($takeover)) {
            mkdir($takeover, 0700, true);
        }
        // This test has no database: the migration and the sweep (which read PrestaShop's tables) are
        // stand-ins here; EndToEndTest runs the real ones on MariaDB.
        $standIns = [
            'ShoppingfeedOrderSyncSweep.php' => "<?php\nclass ShoppingfeedOrderSyncSweep\n{\n    public function run(\$idShop, \$limit) { return ['swept' => 0]; }\n}\n",
            'ShoppingfeedOrderSyncTaskOrderMigration.php' => "<?php\nclass ShoppingfeedOrderSyncTaskOrderMigration\n{\n    public function run() { return ['migrated' => 0]; }\n}\n",
        ];
        foreach ($standIns as $file => $code) {
            file_put_contents($takeover . $file, $code);
        }
        // The module's own controllers (stand-ins: what the overrides rely on).
        file_put_contents($module . '/controllers/front/syncOrder.php', <<<'PHP'
<?php
use ShoppingfeedClasslib\Extensions\ProcessLogger\ProcessLoggerHandler;

class ShoppingfeedSyncOrderModuleFrontController extends ShoppingfeedCronController
{
    public $processMonitor;
    public static $importRan = false;
    public static $parentSyncRan = false;

    protected function processCron($data)
    {
        $this->importOrders();
        $this->syncOrderStatus();
        ProcessLoggerHandler::closeLogger();

        return $data;
    }

    public function importOrders()
    {
        self::$importRan = true;
    }

    public function syncOrderStatus()
    {
        // The module's chains: process('ShoppingfeedOrderSync') (would die beside the extension).
        self::$parentSyncRan = true;
    }
}
PHP
        );
        file_put_contents($module . '/controllers/front/syncAll.php', <<<'PHP'
<?php
class ShoppingfeedSyncAllModuleFrontController extends ShoppingfeedCronController
{
    protected $syncOrderCron;

    public function __construct()
    {
        $this->syncOrderCron = new ShoppingfeedSyncOrderModuleFrontController();
    }

    public function syncOrderClass()
    {
        return get_class($this->syncOrderCron);
    }

    protected function processCron($data)
    {
        $processCron = new ReflectionMethod($this->syncOrderCron, 'processCron');
        $processCron->setAccessible(true);

        return $processCron->invoke($this->syncOrderCron, $data);
    }
}
PHP
        );
        file_put_contents($this->dir . '/child.php', <<<'PHP'
<?php
// One cron run of CronOverrideTest (see there).
$dir = getenv('SFTEST_DIR');
$repo = getenv('SFTEST_REPO');
define('_PS_VERSION_', '8.1.7');
define('_PS_MODULE_DIR_', $dir . '/modules/');
foreach (['Configuration', 'Shop', 'Mail', 'PrestaShopLogger', 'Hook', 'ActionsHandler', 'CronController', 'ProcessLoggerHandler'] as $c) {
    require_once $repo . '/tests/php/doubles/' . $c . '.php';
}
require_once $repo . '/tests/php/support/Sandbox.php';
ActionsHandler::$moduleDir = _PS_MODULE_DIR_ . 'shoppingfeed/';

abstract class ShoppingfeedCronController extends CronController
{
}
class Shoppingfeed
{
    public static function isOrderSyncAvailable($idShop = null)
    {
        return true;
    }
}
class ShoppingfeedToken
{
    public function findAllActive()
    {
        return [
            ['id_shoppingfeed_token' => '1', 'id_shop' => '1', 'content' => 'token-store-11', 'shoppingfeed_store_id' => '11', 'active' => '1'],
            ['id_shoppingfeed_token' => '2', 'id_shop' => '1', 'content' => 'token-store-22', 'shoppingfeed_store_id' => '22', 'active' => '1'],
            ['id_shoppingfeed_token' => '3', 'id_shop' => '1', 'content' => 'token-refused', 'shoppingfeed_store_id' => '33', 'active' => '1'],
        ];
    }
}

// PrestaShop's Dispatcher: the module's controller, then its override, the ...Override class when there.
function dispatch($controller)
{
    require_once _PS_MODULE_DIR_ . 'shoppingfeed/controllers/front/' . $controller . '.php';
    $override = getenv('SFTEST_REPO') . '/php/override/modules/shoppingfeed/controllers/front/' . $controller . '.php';
    if (is_file($override)) {
        require_once $override;
    }
    $class = 'Shoppingfeed' . ucfirst($controller) . 'ModuleFrontController';

    return class_exists($class . 'Override') ? $class . 'Override' : $class;
}

$extension = extension_loaded('shoppingfeed_sync');
$posts = [];
if ($extension) {
    Sandbox::start(getenv('SFTEST_SANDBOX_BIN'), $dir);
    ini_set('shoppingfeed_sync.api_url', Sandbox::url());
    Sandbox::reset();
    Sandbox::config(['store_ids' => [11, 22, 33], 'tokens' => ['token-store-11', 'token-store-22']]);
    foreach (['SHOPPINGFEED_ORDER_SYNC_ENABLED' => '1', 'SHOPPINGFEED_SHIPPED_ORDERS' => '[4]', 'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => '0',
        'SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '0', 'SHOPPINGFEED_ORDER_STATUS_RETRY_DELAY' => '0'] as $k => $v) {
        Configuration::updateValue($k, $v);
    }
    foreach ([1 => 11, 2 => 22, 3 => 11, 4 => 33] as $idOrder => $store) {
        $a = new ShoppingfeedOrderSyncStatusActions();
        $a->setModelObject(null);
        $a->setConveyor(['id_order' => $idOrder, 'id_shop' => 1, 'order_action' => 'SYNC_STATUS', 'shoppingfeed_store_id' => $store,
            'order' => ['id_internal_shoppingfeed' => 100 + $idOrder, 'id_order_state' => 4, 'carrier' => 'Colissimo',
                'tracking_number' => 'TRK' . $idOrder, 'tracking_url' => 'https://track.example/TRK' . $idOrder]]);
        if (!$a->saveOrder()) {
            fwrite(STDERR, "saveOrder $idOrder failed\n");
            exit(1);
        }
    }
}

$name = $argv[1];
$class = dispatch($name);
$cron = new $class();
$syncOrderClass = null;
if ($name === 'syncAll') {
    $syncOrderClass = $cron->syncOrderClass();
}
$run = new ReflectionMethod($cron, 'processCron');
$run->setAccessible(true);
$run->invoke($cron, []);

$summary = null;
$states = [];
if ($extension) {
    $syncOrder = $name === 'syncAll' ? (new ReflectionProperty($cron, 'syncOrderCron')) : null;
    if ($syncOrder) {
        $syncOrder->setAccessible(true);
        $summary = $syncOrder->getValue($cron)->orderSyncSummary;
    } else {
        $summary = $cron->orderSyncSummary;
    }
    $posts = Sandbox::orderPosts();
    foreach ([1, 2, 3, 4] as $idOrder) {
        $rows = ShoppingfeedOrderSyncQueue::find($idOrder);
        $states[$idOrder] = $rows ? $rows[0]['state'] : null;
    }
    Sandbox::stop();
}
echo json_encode([
    'import_ran' => ShoppingfeedSyncOrderModuleFrontController::$importRan,
    'parent_sync_ran' => ShoppingfeedSyncOrderModuleFrontController::$parentSyncRan,
    'sync_order_class' => $syncOrderClass,
    'summary' => $summary,
    'posts' => $posts,
    'states' => $states,
    'process_log' => ShoppingfeedClasslib\Extensions\ProcessLogger\ProcessLoggerHandler::$saved,
]);
PHP
        );
    }
}
