<?php
/**
 * php/tools/bin/shoppingfeed-takeover.php on a stand-in PrestaShop root,
 * run the way a merchant runs it: a separate CLI PHP booting the shop from
 * <root>/config/config.inc.php (here: the stand-ins of tests/prestashop on
 * the test MariaDB), and PHP's built-in server with the extension loaded
 * standing in for PHP-FPM (--php-fpm-url).
 *
 * The procedure is README's "Loading it in PrestaShop": every
 * shoppingfeed-takeover.php command of that section is read from the
 * README and run, in its order, with /var/www/prestashop and
 * https://shop.example replaced by the stand-in's root and server.
 *
 * Needs SHOPPINGFEED_TEST_MYSQL_URL (+ _SOCKET) of scripts/mariadb.sh and
 * the extension (SHOPPINGFEED_SYNC_EXT, default target/release).
 * Self-contained on purpose: its stand-in root is written here (the
 * module as a few files and one table row), so a change of the module's
 * stand-ins elsewhere does not change what "byte for byte" means here.
 */

use PHPUnit\Framework\TestCase;

final class InstallerTest extends TestCase
{
    const TOKEN = 'installer-test-token-5f1c9a';
    const README_ROOT = '/var/www/prestashop';
    const README_URL = 'https://shop.example';

    /** @var string */
    private $repo;
    /** @var string */
    private $root;
    /** @var string */
    private $prefix;
    /** @var PDO */
    private $pdo;
    /** @var resource|null the built-in server standing in for PHP-FPM */
    private $server;
    /** @var string */
    private $serverUrl = '';
    /** @var string[] every output of the installer, for the secrets check */
    private $outputs = [];

    protected function setUp(): void
    {
        $this->repo = dirname(__DIR__, 2);
        if (!is_file($this->extension())) {
            $this->markTestSkipped('the extension is not built: ' . $this->extension());
        }
        $url = getenv('SHOPPINGFEED_TEST_MYSQL_URL');
        if (!$url) {
            $this->markTestSkipped('SHOPPINGFEED_TEST_MYSQL_URL is not set (source the env file of scripts/mariadb.sh)');
        }
        $this->prefix = 'psi' . bin2hex(random_bytes(3)) . '_';
        $this->root = sys_get_temp_dir() . '/sf-installer-' . bin2hex(random_bytes(4));
        $this->pdo = self::connect((string) $url);
        $this->makeRoot();
    }

    protected function tearDown(): void
    {
        if ($this->server) {
            proc_terminate($this->server);
            proc_close($this->server);
            $this->server = null;
        }
        if ($this->pdo) {
            foreach ($this->pdo->query("SHOW TABLES LIKE '" . str_replace('_', '\\_', $this->prefix) . "%'")->fetchAll(PDO::FETCH_COLUMN) as $table) {
                $this->pdo->exec('DROP TABLE IF EXISTS `' . $table . '`');
            }
        }
        if ($this->root && is_dir($this->root)) {
            self::rmTree($this->root);
        }
    }

    public function testTheReadmeProcedureInstallsChecksAndRemovesLeavingTheModuleAsItWas(): void
    {
        $before = $this->treeHash();
        $commands = $this->readmeCommands();
        $this->assertSame(['check', 'install', 'check', 'remove'], array_column($commands, 'command'), 'README: check, install, check again, remove');
        $this->startFpm();

        // 1. check before install: not installed, exit 1, each problem with its fix.
        $run = $this->takeover($commands[0]['args']);
        $this->assertSame(1, $run['code'], $run['out']);
        $this->assertStringContainsString('shoppingfeed_sync ', $run['out'], 'the extension\'s version in this PHP');
        $this->assertStringContainsString('the takeover is not installed', $run['out']);
        foreach (preg_grep('/^PROBLEM:/', explode("\n", $run['out'])) as $line) {
            $this->assertStringContainsString('fix:', $line);
        }
        $this->assertSame($before, $this->treeHash(), 'check changes nothing');

        // 2. install.
        $run = $this->takeover($commands[1]['args']);
        $this->assertSame(0, $run['code'], $run['out']);
        $this->assertStringContainsString('PHP-FPM: shoppingfeed_sync', $run['out'], 'FPM was asked');
        $this->assertStringContainsString('Installed', $run['out']);
        $this->assertFileExists($this->root . '/override/modules/shoppingfeed/controllers/front/syncOrder.php');
        $this->assertFileExists($this->root . '/override/modules/shoppingfeed/controllers/front/syncAll.php');
        $this->assertFileExists($this->root . '/modules/shoppingfeed/classes/ShoppingfeedOrderSyncCron.php');
        $this->assertFileEquals($this->repo . '/php/override/modules/shoppingfeed/controllers/front/syncOrder.php', $this->root . '/override/modules/shoppingfeed/controllers/front/syncOrder.php');
        $this->assertFileDoesNotExist($this->root . '/var/cache/prod/class_index.php', 'the class index cache is deleted');
        $this->assertFileDoesNotExist($this->root . '/var/cache/dev/class_index.php');
        $this->assertSame([], glob($this->root . '/modules/shoppingfeed/sfsync-probe-*'), 'the FPM probe is gone');
        $this->assertSame(['actionAdminOrdersTrackingNumberUpdate', 'actionObjectOrderCarrierUpdateAfter'], $this->hooks());
        $manifest = json_decode((string) file_get_contents($this->root . '/modules/shoppingfeed/shoppingfeed_sync_takeover.json'), true);
        $this->assertIsArray($manifest);
        foreach ($manifest['files'] as $rel => $hash) {
            $this->assertSame(hash_file('sha256', $this->root . '/' . $rel), $hash, $rel);
        }
        $this->assertArrayHasKey('override/modules/shoppingfeed/controllers/front/syncOrder.php', $manifest['files']);
        foreach ($this->moduleFiles() as $rel => $content) {
            $this->assertSame($content, file_get_contents($this->root . '/modules/shoppingfeed/' . $rel), 'the module\'s own file is untouched: ' . $rel);
        }
        $marker = $this->pdo->query("SELECT value FROM {$this->prefix}configuration WHERE name = 'SHOPPINGFEED_SYNC_SWEEP_LAST_ID_ORDER_HISTORY' AND id_shop = 1")->fetchColumn();
        if ($marker !== false) {
            $this->assertSame('7', (string) $marker, 'the sweep starts after the last order history of shop 1');
        }

        // A second install changes nothing and says so.
        $installed = $this->treeHash();
        $run = $this->takeover($commands[1]['args']);
        $this->assertSame(0, $run['code'], $run['out']);
        $this->assertStringContainsString('Already installed: nothing changed.', $run['out']);
        $this->assertDoesNotMatchRegularExpression('/^(placed|updated|registered) /m', $run['out']);
        $this->assertSame($installed, $this->treeHash());

        // 3. check after install: OK.
        $run = $this->takeover($commands[2]['args']);
        $this->assertSame(0, $run['code'], $run['out']);
        $this->assertStringContainsString('OK:', $run['out']);
        $this->assertStringNotContainsString('PROBLEM', $run['out']);

        // 4. remove: the module's folder and the overrides as before install, hooks gone.
        $run = $this->takeover($commands[3]['args']);
        $this->assertSame(0, $run['code'], $run['out']);
        $this->assertMatchesRegularExpression('/\d+ order update\(s\) still pending/', $run['out']);
        $this->assertSame($before, $this->treeHash(), 'remove restores the tree byte for byte');
        $this->assertSame([], $this->hooks());
        $this->assertFileDoesNotExist($this->root . '/override/modules');

        $this->assertNoSecrets();
    }

    public function testAForeignOverrideRefusesTheInstallAndIsKept(): void
    {
        $mine = $this->root . '/override/modules/shoppingfeed/controllers/front/syncOrder.php';
        mkdir(dirname($mine), 0755, true);
        file_put_contents($mine, "<?php\n// the merchant's own syncOrder override\n");
        $before = $this->treeHash();

        $run = $this->takeover(['install', '--shop=' . $this->root]);
        $this->assertSame(1, $run['code'], $run['out']);
        $this->assertStringContainsString('Refused: override/modules/shoppingfeed/controllers/front/syncOrder.php exists and is not ours', $run['out']);
        $this->assertSame($before, $this->treeHash(), 'nothing placed, the merchant\'s file kept');
        $this->assertSame([], $this->hooks());

        $run = $this->takeover(['check', '--shop=' . $this->root]);
        $this->assertSame(1, $run['code']);
        $this->assertStringContainsString('syncOrder.php is not ours', $run['out']);
        $this->assertNoSecrets();
    }

    public function testInstallRefusesWithoutTheExtensionOrTheModule(): void
    {
        $before = $this->treeHash();
        $run = $this->takeover(['install', '--shop=' . $this->root], false);
        $this->assertSame(1, $run['code'], $run['out']);
        $this->assertStringContainsString('Refused: the shoppingfeed_sync extension is not loaded', $run['out']);

        $run = $this->takeover(['check', '--shop=' . $this->root], false);
        $this->assertSame(1, $run['code']);
        $this->assertStringContainsString('extension is not loaded in this PHP', $run['out']);

        $this->pdo->exec("DELETE FROM {$this->prefix}module WHERE name = 'shoppingfeed'");
        $run = $this->takeover(['install', '--shop=' . $this->root]);
        $this->assertSame(1, $run['code'], $run['out']);
        $this->assertStringContainsString('Refused: the Shopping Feed module is not installed', $run['out']);
        $this->assertSame($before, $this->treeHash());

        $run = $this->takeover(['install', '--shop=' . $this->root . '/nowhere']);
        $this->assertSame(2, $run['code']);
        $this->assertNoSecrets();
    }

    public function testAnEditedFileIsKeptOnRemoveUnlessForced(): void
    {
        $before = $this->treeHash();
        $this->assertSame(0, $this->takeover(['install', '--shop=' . $this->root])['code']);
        $edited = $this->root . '/override/modules/shoppingfeed/controllers/front/syncAll.php';
        file_put_contents($edited, "\n// a local edit\n", FILE_APPEND);

        $run = $this->takeover(['check', '--shop=' . $this->root]);
        $this->assertSame(1, $run['code']);
        $this->assertStringContainsString('syncAll.php was edited since install', $run['out']);

        $run = $this->takeover(['remove', '--shop=' . $this->root]);
        $this->assertSame(1, $run['code'], $run['out']);
        $this->assertStringContainsString('kept override/modules/shoppingfeed/controllers/front/syncAll.php: edited since install', $run['out']);
        $this->assertFileExists($edited);
        $this->assertFileDoesNotExist($this->root . '/override/modules/shoppingfeed/controllers/front/syncOrder.php');

        $run = $this->takeover(['remove', '--shop=' . $this->root, '--force']);
        $this->assertSame(0, $run['code'], $run['out']);
        $this->assertSame($before, $this->treeHash());
        $this->assertNoSecrets();
    }

    public function testOverridesDisabledIsAProblemWithItsFix(): void
    {
        $this->assertSame(0, $this->takeover(['install', '--shop=' . $this->root])['code']);
        $this->pdo->exec("INSERT INTO {$this->prefix}configuration (name, value, date_add, date_upd) VALUES ('PS_DISABLE_OVERRIDES', '1', NOW(), NOW())");
        $run = $this->takeover(['check', '--shop=' . $this->root]);
        $this->assertSame(1, $run['code'], $run['out']);
        $this->assertStringContainsString('PS_DISABLE_OVERRIDES', $run['out']);
        $this->assertStringContainsString('Disable all overrides: No', $run['out']);
    }

    /* ------------------------------------------------------------------ */

    private function extension(): string
    {
        $ext = getenv('SHOPPINGFEED_SYNC_EXT');

        return $ext ? $ext : dirname(__DIR__, 2) . '/target/release/libshoppingfeed_sync.so';
    }

    /**
     * The shoppingfeed-takeover.php commands of README's "Loading it in PrestaShop", in order.
     *
     * @return array<int, array{command: string, args: string[]}>
     */
    private function readmeCommands(): array
    {
        $readme = (string) file_get_contents($this->repo . '/README.md');
        $start = strpos($readme, "\n## Loading it in PrestaShop\n");
        $this->assertNotFalse($start, 'README has the section');
        $end = strpos($readme, "\n## ", $start + 5);
        $section = substr($readme, $start, $end === false ? null : $end - $start);
        preg_match_all('~^\s*php php/tools/bin/shoppingfeed-takeover\.php (.+)$~m', $section, $m);
        $out = [];
        foreach ($m[1] as $line) {
            $args = preg_split('/\s+/', trim(str_replace([self::README_ROOT, self::README_URL], [$this->root, '@FPM@'], $line)));
            $out[] = ['command' => $args[0], 'args' => $args];
        }

        return $out;
    }

    /** Runs the installer in a CLI PHP of its own; returns exit code and output (stdout + stderr). */
    private function takeover(array $args, bool $withExtension = true): array
    {
        $args = array_map(function ($a) {
            return str_replace('@FPM@', $this->serverUrl, $a);
        }, $args);
        $cmd = [PHP_BINARY, '-d', 'error_reporting=-1', '-d', 'display_errors=stderr'];
        if ($withExtension) {
            $cmd = array_merge($cmd, ['-d', 'extension=' . $this->extension(), '-d', 'shoppingfeed_sync.database=' . $this->root . '/var/queue.sqlite']);
        }
        $cmd[] = $this->repo . '/php/tools/bin/shoppingfeed-takeover.php';
        $cmd = array_merge($cmd, $args);
        $proc = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['redirect', 1]], $pipes, null, $this->env());
        fclose($pipes[0]);
        $out = (string) stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        $code = proc_close($proc);
        $this->outputs[] = $out;

        return ['code' => $code, 'out' => $out];
    }

    private function env(): array
    {
        $env = getenv();
        $env['SFTEST_PREFIX'] = $this->prefix;
        $env['SFTEST_DOUBLES'] = __DIR__ . '/doubles/';

        return $env;
    }

    /** PHP's built-in server with the extension, on the stand-in root: PHP-FPM for --php-fpm-url. */
    private function startFpm(): void
    {
        $sock = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($sock, false), ':'), 1);
        fclose($sock);
        $this->server = proc_open([PHP_BINARY, '-d', 'extension=' . $this->extension(), '-S', '127.0.0.1:' . $port, '-t', $this->root],
            [0 => ['pipe', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
        $this->serverUrl = 'http://127.0.0.1:' . $port;
        for ($i = 0; $i < 100; $i++) {
            $c = @fsockopen('127.0.0.1', $port, $errno, $errstr, 0.1);
            if ($c) {
                fclose($c);

                return;
            }
            usleep(50000);
        }
        $this->fail('the built-in server did not start');
    }

    /** @return string[] hooks the module is registered on */
    private function hooks(): array
    {
        $p = $this->prefix;

        return $this->pdo->query("SELECT h.name FROM {$p}hook_module hm JOIN {$p}hook h ON h.id_hook = hm.id_hook"
            . " JOIN {$p}module m ON m.id_module = hm.id_module WHERE m.name = 'shoppingfeed' ORDER BY h.name")->fetchAll(PDO::FETCH_COLUMN);
    }

    private function assertNoSecrets(): void
    {
        $password = (string) parse_url((string) getenv('SHOPPINGFEED_TEST_MYSQL_URL'), PHP_URL_PASS);
        foreach ($this->outputs as $out) {
            $this->assertStringNotContainsString(self::TOKEN, $out, 'no token in the output');
            if ($password !== '') {
                $this->assertStringNotContainsString(rawurldecode($password), $out, 'no database password in the output');
            }
        }
    }

    /** sha256 of every file (path and content) under modules/ and override/. */
    private function treeHash(): string
    {
        $lines = [];
        foreach (['modules', 'override'] as $top) {
            if (!is_dir($this->root . '/' . $top)) {
                continue;
            }
            $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($this->root . '/' . $top, FilesystemIterator::SKIP_DOTS), RecursiveIteratorIterator::SELF_FIRST);
            foreach ($it as $f) {
                $rel = substr($f->getPathname(), strlen($this->root) + 1);
                $lines[] = $rel . ($f->isDir() ? '/' : ' ' . hash_file('sha256', $f->getPathname()));
            }
        }
        sort($lines);

        return hash('sha256', implode("\n", $lines));
    }

    /** The module's files in the stand-in root (a few, named as in the module). */
    private function moduleFiles(): array
    {
        return [
            'shoppingfeed.php' => "<?php\nclass Shoppingfeed extends Module\n{\n    public \$name = 'shoppingfeed';\n\n    public static function isOrderSyncAvailable(\$idShop = null)\n    {\n        return true;\n    }\n}\n",
            'classes/actions/ShoppingfeedOrderSyncActions.php' => "<?php\n// the module's own order sync (never included once the takeover is in place)\n",
            'classes/ShoppingfeedToken.php' => "<?php\n// the module's token model\n",
            'controllers/front/syncOrder.php' => "<?php\n// the module's syncOrder cron\n",
            'controllers/front/syncAll.php' => "<?php\n// the module's syncAll cron\n",
            'mails/en/error.html' => "<p>the module's mail</p>\n",
            'cli.php' => "<?php\n// the module's CLI entry\n",
        ];
    }

    private function makeRoot(): void
    {
        foreach ($this->moduleFiles() as $rel => $content) {
            $path = $this->root . '/modules/shoppingfeed/' . $rel;
            if (!is_dir(dirname($path))) {
                mkdir(dirname($path), 0755, true);
            }
            file_put_contents($path, $content);
        }
        foreach (['config', 'override/classes', 'var/cache/prod', 'var/cache/dev'] as $dir) {
            if (!is_dir($this->root . '/' . $dir)) {
                mkdir($this->root . '/' . $dir, 0755, true);
            }
        }
        file_put_contents($this->root . '/var/cache/prod/class_index.php', "<?php return [];\n");
        file_put_contents($this->root . '/var/cache/dev/class_index.php', "<?php return [];\n");
        // The shop's boot: PrestaShop's constants, the stand-ins, the database (as the shop's CLI would).
        file_put_contents($this->root . '/config/config.inc.php', <<<'PHP'
<?php
if (!defined('_PS_VERSION_')) {
    define('_PS_VERSION_', '8.1.5');
}
define('_PS_ROOT_DIR_', dirname(__DIR__));
define('_PS_MODULE_DIR_', _PS_ROOT_DIR_ . '/modules/');
define('_PS_OVERRIDE_DIR_', _PS_ROOT_DIR_ . '/override/');
$u = parse_url(getenv('SHOPPINGFEED_TEST_MYSQL_URL'));
define('_DB_PASSWD_', rawurldecode(isset($u['pass']) ? $u['pass'] : ''));
foreach (['Db', 'Configuration', 'Validate', 'Tools', 'Translate', 'PrestaShopLogger', 'ObjectModel', 'Hook', 'Module',
    'Order', 'OrderState', 'OrderHistory', 'Carrier', 'OrderCarrier', 'OrderInvoice', 'OrderSlip'] as $c) {
    require_once getenv('SFTEST_DOUBLES') . $c . '.php';
}
$socket = getenv('SHOPPINGFEED_TEST_MYSQL_SOCKET');
$db = ltrim($u['path'], '/');
Db::connect($socket ? "mysql:unix_socket=$socket;dbname=$db;charset=utf8mb4"
    : 'mysql:host=' . $u['host'] . ';port=' . (isset($u['port']) ? $u['port'] : 3306) . ";dbname=$db;charset=utf8mb4",
    rawurldecode($u['user']), _DB_PASSWD_, getenv('SFTEST_PREFIX'));
Module::$modulesDir = _PS_MODULE_DIR_;
Module::$overrideDir = _PS_OVERRIDE_DIR_;
PHP
        );

        $p = $this->prefix;
        $sql = str_replace('PREFIX_', $p, (string) file_get_contents(__DIR__ . '/schema.sql'));
        $sql = (string) preg_replace('/^\s*--.*$/m', '', $sql);
        foreach (array_filter(array_map('trim', explode(';', $sql))) as $stmt) {
            $this->pdo->exec($stmt);
        }
        $this->pdo->exec("INSERT INTO {$p}shop (id_shop, name) VALUES (1, 'One'), (2, 'Two')");
        $this->pdo->exec("INSERT INTO {$p}module (name, active, version) VALUES ('shoppingfeed', 1, '2.1.0')");
        $this->pdo->exec("INSERT INTO {$p}shoppingfeed_token (id_shop, id_lang, id_currency, content, shoppingfeed_store_id, feed_key, active)"
            . " VALUES (1, 1, 1, '" . self::TOKEN . "', 4242, 'fk-1', 1)");
        $this->pdo->exec("INSERT INTO {$p}orders (id_order, id_shop) VALUES (1, 1), (2, 2)");
        $this->pdo->exec("INSERT INTO {$p}order_history (id_order_history, id_order, id_order_state, date_add) VALUES (5, 1, 2, NOW()), (6, 2, 2, NOW()), (7, 1, 4, NOW())");
    }

    private static function connect(string $url): PDO
    {
        $u = parse_url($url);
        $db = ltrim((string) $u['path'], '/');
        $socket = getenv('SHOPPINGFEED_TEST_MYSQL_SOCKET');
        $dsn = $socket ? "mysql:unix_socket=$socket;dbname=$db;charset=utf8mb4"
            : 'mysql:host=' . ($u['host'] ?? '127.0.0.1') . ';port=' . ($u['port'] ?? 3306) . ";dbname=$db;charset=utf8mb4";
        $pdo = new PDO($dsn, rawurldecode($u['user'] ?? ''), rawurldecode($u['pass'] ?? ''), [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
        $pdo->exec("SET sql_mode = 'NO_ENGINE_SUBSTITUTION'");

        return $pdo;
    }

    private static function rmTree(string $dir): void
    {
        $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS), RecursiveIteratorIterator::CHILD_FIRST);
        foreach ($it as $f) {
            $f->isDir() ? rmdir($f->getPathname()) : unlink($f->getPathname());
        }
        rmdir($dir);
    }
}
