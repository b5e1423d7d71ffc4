<?php
/**
 * shoppingfeed-takeover.php: what the installer asks of the shop. It runs
 * in the shop's own CLI PHP with PrestaShop booted (config/config.inc.php),
 * so the database, Configuration, Module and Hook are PrestaShop's; the
 * few reads PrestaShop has no API for are plain SQL on its tables.
 *
 * Every line printed goes through takeover_say(), which blanks out the
 * shop's Shopping Feed tokens and its database password: the output may be
 * pasted into a support ticket.
 */

const TAKEOVER_EXTENSION = 'shoppingfeed_sync';
const TAKEOVER_MODULE = 'shoppingfeed';
/** The hooks the takeover adds to the module (ShoppingfeedOverride answers them). */
const TAKEOVER_HOOKS = ['actionAdminOrdersTrackingNumberUpdate', 'actionObjectOrderCarrierUpdateAfter'];
/** The sweep's marker when ShoppingfeedOrderSyncSweep does not name its own. */
const TAKEOVER_SWEEP_MARKER = 'SHOPPINGFEED_SYNC_SWEEP_LAST_ID_ORDER_HISTORY';

/** @var string[] values no output line may hold */
$GLOBALS['takeover_secrets'] = [];

function takeover_add_secret($secret)
{
    if (is_string($secret) && strlen($secret) >= 4 && !in_array($secret, $GLOBALS['takeover_secrets'], true)) {
        $GLOBALS['takeover_secrets'][] = $secret;
    }
}

function takeover_scrub($text)
{
    foreach ($GLOBALS['takeover_secrets'] as $secret) {
        $text = str_replace($secret, '***', $text);
    }

    return (string) preg_replace('~([a-z][a-z0-9+.-]*://[^:/@?#\s]*:)[^/?#\s]*@~i', '$1***@', $text);
}

/** Prints one line (stdout, or stderr for $err). */
function takeover_say($line, $err = false)
{
    fwrite($err ? STDERR : STDOUT, takeover_scrub($line) . "\n");
}

/** @return string|null the extension's version in this PHP, null when it is not loaded */
function takeover_extension_version()
{
    if (!extension_loaded(TAKEOVER_EXTENSION)) {
        return null;
    }
    $version = phpversion(TAKEOVER_EXTENSION);

    return is_string($version) ? $version : '?';
}

/**
 * Boots PrestaShop from its root (config/config.inc.php) and collects the
 * secrets to scrub. Returns an error message, or null when booted.
 */
function takeover_boot_shop($root)
{
    $config = $root . '/config/config.inc.php';
    if (!is_file($config)) {
        return sprintf('%s is not a PrestaShop root (no config/config.inc.php); fix: give --shop=<the folder holding config/ and modules/>', $root);
    }
    $cwd = getcwd();
    chdir($root);
    try {
        require_once $config;
    } finally {
        if ($cwd !== false) {
            chdir($cwd);
        }
    }
    if (defined('_DB_PASSWD_')) {
        takeover_add_secret((string) constant('_DB_PASSWD_'));
    }
    try {
        foreach (takeover_rows('SELECT content FROM `' . takeover_prefix() . 'shoppingfeed_token`') as $row) {
            takeover_add_secret(isset($row['content']) ? (string) $row['content'] : null);
        }
    } catch (Throwable $e) {
        // No token table (the module not installed): nothing to hide.
    }
    if (class_exists('Configuration')) {
        takeover_add_secret(Configuration::get('SHOPPINGFEED_AUTH_TOKEN'));
    }

    return null;
}

function takeover_prefix()
{
    if (defined('_DB_PREFIX_')) {
        return constant('_DB_PREFIX_');
    }

    return method_exists(Db::getInstance(), 'getPrefix') ? Db::getInstance()->getPrefix() : 'ps_';
}

/** @return array[] */
function takeover_rows($sql)
{
    $rows = Db::getInstance()->executeS($sql);

    return is_array($rows) ? $rows : [];
}

/** @return int[] the shops (not deleted) */
function takeover_shop_ids()
{
    $ids = [];
    foreach (takeover_rows('SELECT id_shop FROM `' . takeover_prefix() . 'shop` WHERE deleted = 0 ORDER BY id_shop') as $row) {
        $ids[] = (int) $row['id_shop'];
    }

    return $ids ? $ids : [1];
}

/** @return bool whether the module's files are there and PrestaShop lists it as installed */
function takeover_module_installed($root)
{
    if (!is_file($root . '/modules/' . TAKEOVER_MODULE . '/' . TAKEOVER_MODULE . '.php')) {
        return false;
    }
    $rows = takeover_rows("SELECT id_module FROM `" . takeover_prefix() . "module` WHERE name = '" . TAKEOVER_MODULE . "'");

    return (bool) $rows;
}

function takeover_module_id()
{
    $rows = takeover_rows("SELECT id_module FROM `" . takeover_prefix() . "module` WHERE name = '" . TAKEOVER_MODULE . "'");

    return $rows ? (int) $rows[0]['id_module'] : 0;
}

function takeover_overrides_disabled()
{
    return (bool) Configuration::get('PS_DISABLE_OVERRIDES');
}

/** A hook name as it may go into SQL (letters, digits, underscores only). */
function takeover_sql_name($name)
{
    if (!preg_match('/^[A-Za-z0-9_]+$/', (string) $name)) {
        throw new InvalidArgumentException('not a hook name: ' . $name);
    }

    return (string) $name;
}

/** @return bool whether the module is registered on a hook (any shop) */
function takeover_hook_registered($hook)
{
    $p = takeover_prefix();
    $rows = takeover_rows(sprintf(
        "SELECT hm.id_hook FROM `%shook_module` hm JOIN `%shook` h ON h.id_hook = hm.id_hook WHERE hm.id_module = %d AND h.name = '%s'",
        $p,
        $p,
        takeover_module_id(),
        takeover_sql_name($hook)
    ));

    return (bool) $rows;
}

/** @return object the module (PrestaShop's instance) */
function takeover_module()
{
    $module = Module::getInstanceByName(TAKEOVER_MODULE);
    if (!is_object($module)) {
        throw new RuntimeException('PrestaShop could not load the shoppingfeed module');
    }

    return $module;
}

function takeover_register_hook($hook)
{
    $ok = takeover_module()->registerHook($hook);

    return $ok !== false && takeover_hook_registered($hook);
}

function takeover_unregister_hook($hook)
{
    $module = takeover_module();
    if (method_exists($module, 'unregisterHook')) {
        $module->unregisterHook($hook);
    }
    if (takeover_hook_registered($hook)) {
        // PrestaShop's unregisterHook takes a hook id in older versions: remove the row itself.
        $p = takeover_prefix();
        Db::getInstance()->execute(sprintf(
            "DELETE hm FROM `%shook_module` hm JOIN `%shook` h ON h.id_hook = hm.id_hook WHERE hm.id_module = %d AND h.name = '%s'",
            $p,
            $p,
            takeover_module_id(),
            takeover_sql_name($hook)
        ));
    }

    return !takeover_hook_registered($hook);
}

/** @return string[] PrestaShop's class index caches (var/cache/<env>/class_index.php) */
function takeover_class_index_files($root)
{
    $files = glob($root . '/var/cache/*/class_index.php');

    return is_array($files) ? $files : [];
}

/** Deletes the class index caches; returns how many. */
function takeover_clear_class_index($root)
{
    $n = 0;
    foreach (takeover_class_index_files($root) as $file) {
        if (@unlink($file)) {
            $n++;
        }
    }

    return $n;
}

/** The sweep's Configuration key (its own constant when it declares one). */
function takeover_sweep_marker_key()
{
    foreach (['MARKER_KEY', 'CONFIG_MARKER', 'CONFIG_LAST_ID_ORDER_HISTORY'] as $const) {
        if (class_exists('ShoppingfeedOrderSyncSweep', false) && defined('ShoppingfeedOrderSyncSweep::' . $const)) {
            return constant('ShoppingfeedOrderSyncSweep::' . $const);
        }
    }

    return TAKEOVER_SWEEP_MARKER;
}

/**
 * Sets each shop's sweep marker to its current last id_order_history, when
 * not set yet: the sweep then looks only at state changes made after the
 * takeover (the module's own queue holds those before it, migrated).
 *
 * @return array<int, array{marker: int, set: bool}>
 */
function takeover_set_sweep_markers()
{
    $key = takeover_sweep_marker_key();
    $p = takeover_prefix();
    $out = [];
    foreach (takeover_shop_ids() as $idShop) {
        $current = Configuration::get($key, null, null, $idShop);
        if ($current !== false && $current !== null && $current !== '') {
            $out[$idShop] = ['marker' => (int) $current, 'set' => false];
            continue;
        }
        $rows = takeover_rows(sprintf(
            'SELECT MAX(oh.id_order_history) AS m FROM `%sorder_history` oh JOIN `%sorders` o ON o.id_order = oh.id_order WHERE o.id_shop = %d',
            $p,
            $p,
            $idShop
        ));
        $max = $rows && $rows[0]['m'] !== null ? (int) $rows[0]['m'] : 0;
        Configuration::updateValue($key, (string) $max, false, null, $idShop);
        $out[$idShop] = ['marker' => $max, 'set' => true];
    }

    return $out;
}

/** Forgets the sweep's markers (remove). */
function takeover_clear_sweep_markers()
{
    Configuration::deleteByName(takeover_sweep_marker_key());
}

/** @return int|null updates the extension's queue still has to send or confirm (null: unknown) */
function takeover_pending_updates()
{
    if (!class_exists('ShoppingfeedOrderSyncQueue') || !is_callable(['ShoppingfeedOrderSyncQueue', 'overview'])) {
        return null;
    }
    try {
        $n = 0;
        foreach (ShoppingfeedOrderSyncQueue::overview() as $group) {
            if (in_array($group['state'], ['pending', 'sent'], true)) {
                $n += (int) $group['count'];
            }
        }

        return $n;
    } catch (Throwable $e) {
        return null;
    }
}

/**
 * Asks PHP-FPM whether it loaded the extension: places a one-off probe
 * script (random name) in the module's folder, requests it through the
 * shop's URL, deletes it.
 *
 * @return array{ok: bool, version: string|null, error: string|null}
 */
function takeover_probe_fpm($root, $url)
{
    $name = 'sfsync-probe-' . bin2hex(random_bytes(8)) . '.php';
    $file = $root . '/modules/' . TAKEOVER_MODULE . '/' . $name;
    $code = "<?php\nheader('Content-Type: application/json');\n"
        . "echo json_encode(['loaded' => extension_loaded('" . TAKEOVER_EXTENSION . "'), 'version' => phpversion('" . TAKEOVER_EXTENSION . "') ?: null, 'sapi' => PHP_SAPI]);\n";
    if (@file_put_contents($file, $code) === false) {
        return ['ok' => false, 'version' => null, 'error' => 'could not write the probe script into modules/' . TAKEOVER_MODULE . '/'];
    }
    try {
        $target = rtrim($url, '/') . '/modules/' . TAKEOVER_MODULE . '/' . $name;
        $context = stream_context_create(['http' => ['timeout' => 15, 'ignore_errors' => true], 'ssl' => ['verify_peer' => true]]);
        $body = @file_get_contents($target, false, $context);
        if ($body === false) {
            return ['ok' => false, 'version' => null, 'error' => 'no answer from ' . rtrim($url, '/') . ' (is it the shop\'s address, reachable from here?)'];
        }
        $answer = json_decode($body, true);
        if (!is_array($answer) || !array_key_exists('loaded', $answer)) {
            return ['ok' => false, 'version' => null, 'error' => 'the probe did not run as PHP behind ' . rtrim($url, '/') . ' (answer: ' . substr(trim(strip_tags($body)), 0, 80) . ')'];
        }

        return ['ok' => (bool) $answer['loaded'], 'version' => isset($answer['version']) ? (string) $answer['version'] : null, 'error' => null];
    } finally {
        @unlink($file);
    }
}
