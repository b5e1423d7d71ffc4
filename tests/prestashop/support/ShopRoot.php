<?php
/**
 * A fake PrestaShop root for one test, in the temp folder:
 *
 *   <root>/index.php                       boots config.inc.php, Dispatcher::dispatch()
 *   <root>/config/config.inc.php           what a separate PHP process (the installer,
 *                                          a cron) includes: defines _PS_VERSION_,
 *                                          _PS_ROOT_DIR_, _PS_MODULE_DIR_, _PS_OVERRIDE_DIR_,
 *                                          _PS_CACHE_DIR_, _PS_MAIL_DIR_, _COOKIE_KEY_,
 *                                          _DB_SERVER_, _DB_NAME_, _DB_USER_, _DB_PASSWD_,
 *                                          _DB_PREFIX_; loads tests/prestashop/doubles,
 *                                          connects Db to the test database and prefix,
 *                                          loads the module's vendor/autoload.php
 *   <root>/config/sftest-db.php            the connection (mode 0600; never printed)
 *   <root>/modules/shoppingfeed/           a copy of fixtures/shoppingfeed (the module's stand-in)
 *   <root>/override/                       empty
 *   <root>/var/cache/prod/class_index.php  a dummy PrestaShop would rebuild
 *   <root>/var/mails.jsonl                 mails "sent" by child processes (Mail stand-in)
 *   <root>/mails/                          empty
 *
 * ShopRoot::create() uses the connection of the PHPUnit process
 * (shoppingfeed_test_db_params() of bootstrap.php) unless given one.
 */
final class ShopRoot
{
    public static function fixturesDir(): string
    {
        return dirname(__DIR__) . '/fixtures';
    }

    public static function repoDir(): string
    {
        return dirname(__DIR__, 3);
    }

    /**
     * @param array $options 'module' => bool (default true: copy the module's stand-in),
     *                       'db' => array (dsn, user, password, prefix, host, port, name, socket;
     *                       default: this process's), 'php_version' => string (_PS_VERSION_, default 8.1.7)
     *
     * @return string the root (no trailing slash)
     */
    public static function create(array $options = []): string
    {
        $root = sys_get_temp_dir() . '/sf-shop-' . bin2hex(random_bytes(5));
        foreach (['config', 'modules', 'override', 'var/cache/prod', 'mails'] as $d) {
            mkdir("$root/$d", 0700, true);
        }
        if ($options['module'] ?? true) {
            self::copyTree(self::fixturesDir() . '/shoppingfeed', "$root/modules/shoppingfeed");
        }
        copy(self::fixturesDir() . '/index.php', "$root/index.php");
        file_put_contents("$root/var/cache/prod/class_index.php", "<?php return array (\n  'OrderController' => array ('path' => 'controllers/front/OrderController.php', 'type' => 'class', 'override' => false),\n);\n");

        $db = $options['db'] ?? shoppingfeed_test_db_params();
        $dbFile = "$root/config/sftest-db.php";
        touch($dbFile);
        chmod($dbFile, 0600);
        file_put_contents($dbFile, "<?php\n// The test database of this shop (tests/prestashop/support/ShopRoot.php).\nreturn " . var_export([
            'dsn' => (string) $db['dsn'], 'user' => (string) $db['user'], 'password' => (string) $db['password'],
            'prefix' => (string) $db['prefix'], 'server' => ($db['socket'] ?? '') !== '' ? 'localhost' : $db['host'] . ':' . $db['port'],
            'name' => (string) $db['name'],
        ], true) . ";\n");

        $doubles = var_export(dirname(__DIR__) . '/doubles/load.php', true);
        $version = var_export((string) ($options['ps_version'] ?? '8.1.7'), true);
        file_put_contents("$root/config/config.inc.php", <<<PHP
<?php
// A fake PrestaShop's config/config.inc.php (tests/prestashop/support/ShopRoot.php).
if (!defined('_PS_VERSION_')) {
    define('_PS_VERSION_', $version);
}
define('_PS_ROOT_DIR_', dirname(__DIR__));
define('_PS_CONFIG_DIR_', _PS_ROOT_DIR_ . '/config/');
define('_PS_MODULE_DIR_', _PS_ROOT_DIR_ . '/modules/');
define('_PS_OVERRIDE_DIR_', _PS_ROOT_DIR_ . '/override/');
define('_PS_CACHE_DIR_', _PS_ROOT_DIR_ . '/var/cache/prod/');
define('_PS_MAIL_DIR_', _PS_ROOT_DIR_ . '/mails/');
define('_PS_MODE_DEV_', false);
define('_COOKIE_KEY_', 'sftest-cookie-key');
\$sftestDb = require __DIR__ . '/sftest-db.php';
define('_DB_SERVER_', \$sftestDb['server']);
define('_DB_NAME_', \$sftestDb['name']);
define('_DB_USER_', \$sftestDb['user']);
define('_DB_PASSWD_', \$sftestDb['password']);
require_once $doubles;
Db::connect(\$sftestDb['dsn'], \$sftestDb['user'], \$sftestDb['password'], \$sftestDb['prefix']); // defines _DB_PREFIX_
unset(\$sftestDb);
Module::\$modulesDir = _PS_MODULE_DIR_;
Module::\$overrideDir = _PS_OVERRIDE_DIR_;
Mail::\$logFile = _PS_ROOT_DIR_ . '/var/mails.jsonl';
if (is_file(_PS_MODULE_DIR_ . 'shoppingfeed/vendor/autoload.php')) {
    require_once _PS_MODULE_DIR_ . 'shoppingfeed/vendor/autoload.php';
}

PHP
        );

        return $root;
    }

    /**
     * Places the integration as its installer would (without the installer):
     * php/module/** into <root>/modules/shoppingfeed/, php/override/** into
     * <root>/override/, and deletes the class index cache.
     */
    public static function placeIntegration(string $root): void
    {
        $repo = self::repoDir();
        self::copyTree("$repo/php/module", "$root/modules/shoppingfeed");
        if (is_dir("$repo/php/override")) {
            self::copyTree("$repo/php/override", "$root/override");
        }
        @unlink("$root/var/cache/prod/class_index.php");
    }

    /** Writes a file under the root (folders created), e.g. a merchant's override. */
    public static function putFile(string $root, string $relative, string $content): string
    {
        $path = $root . '/' . ltrim($relative, '/');
        if (!is_dir(dirname($path))) {
            mkdir(dirname($path), 0700, true);
        }
        file_put_contents($path, $content);

        return $path;
    }

    /** The secure_key the module's crons want (the stand-in's Shoppingfeed::$secure_key). */
    public static function secureKey(): string
    {
        return md5('sftest-cookie-key' . 'shoppingfeed');
    }

    /** @return list<array> the mails child processes of this root "sent" (Mail stand-in) */
    public static function mails(string $root): array
    {
        $file = "$root/var/mails.jsonl";
        if (!is_file($file)) {
            return [];
        }

        return array_map(static function ($l) {
            return json_decode($l, true);
        }, array_values(array_filter(explode("\n", (string) file_get_contents($file)))));
    }

    public static function copyTree(string $src, string $dst): void
    {
        if (!is_dir($dst)) {
            mkdir($dst, 0700, true);
        }
        $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($src, FilesystemIterator::SKIP_DOTS), RecursiveIteratorIterator::SELF_FIRST);
        foreach ($it as $f) {
            $target = $dst . substr($f->getPathname(), strlen($src));
            if ($f->isDir()) {
                if (!is_dir($target)) {
                    mkdir($target, 0700, true);
                }
            } else {
                copy($f->getPathname(), $target);
            }
        }
    }

    /** Removes a root made by create() (only under the temp folder). */
    public static function remove(string $dir): void
    {
        $tmp = rtrim(sys_get_temp_dir(), '/') . '/sf-shop-';
        if ($dir === '' || strpos($dir, $tmp) !== 0 || !is_dir($dir)) {
            return;
        }
        $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS), RecursiveIteratorIterator::CHILD_FIRST);
        foreach ($it as $f) {
            $f->isDir() && !$f->isLink() ? @rmdir($f->getPathname()) : @unlink($f->getPathname());
        }
        @rmdir($dir);
    }
}
