<?php
/**
 * Puts the shoppingfeed_sync extension in charge of the Shopping Feed
 * module's order sync in a PrestaShop shop, checks it, or takes it away.
 *
 *   php shoppingfeed-takeover.php check   --shop=<PrestaShop root> [--php-fpm-url=<shop URL>]
 *   php shoppingfeed-takeover.php install --shop=<PrestaShop root> [--php-fpm-url=<shop URL>] [--force]
 *   php shoppingfeed-takeover.php remove  --shop=<PrestaShop root> [--force]
 *
 * Run it with the shop's own CLI PHP (it boots PrestaShop from
 * <root>/config/config.inc.php) and the extension loaded. Why a tool and
 * not a module upgrade: the module's own files stay untouched; everything
 * it places is listed in a manifest, so `remove` leaves the module exactly
 * as it was. Exit code: 0 done / all good, 1 a problem (each printed with
 * its fix), 2 bad usage. Output never holds a token or a password.
 */

require_once dirname(__DIR__) . '/lib/takeover_commands.php';

function takeover_usage($message = null)
{
    if ($message !== null) {
        fwrite(STDERR, $message . "\n");
    }
    fwrite(STDERR, "usage: php shoppingfeed-takeover.php install|remove|check --shop=<PrestaShop root> [--php-fpm-url=<shop URL>] [--force]\n");

    return 2;
}

function takeover_main(array $argv)
{
    $command = null;
    $options = ['shop' => null, 'php-fpm-url' => null, 'force' => false];
    foreach (array_slice($argv, 1) as $arg) {
        if (preg_match('/^--(shop|php-fpm-url)=(.+)$/', $arg, $m)) {
            $options[$m[1]] = $m[2];
        } elseif ($arg === '--force') {
            $options['force'] = true;
        } elseif ($command === null && in_array($arg, ['install', 'remove', 'check'], true)) {
            $command = $arg;
        } elseif ($arg === '--help' || $arg === '-h') {
            return takeover_usage();
        } else {
            return takeover_usage('unknown argument: ' . $arg);
        }
    }
    if ($command === null || $options['shop'] === null) {
        return takeover_usage($command === null ? 'a command is needed' : '--shop=<PrestaShop root> is needed');
    }
    $root = realpath($options['shop']);
    if ($root === false || !is_dir($root)) {
        return takeover_usage('no such folder: ' . $options['shop']);
    }
    $error = takeover_boot_shop($root);
    if ($error !== null) {
        takeover_say($error, true);

        return 1;
    }
    try {
        if ($command === 'check') {
            return takeover_check($root, $options);
        }
        if ($command === 'install') {
            return takeover_install($root, $options);
        }

        return takeover_remove($root, $options);
    } catch (Throwable $e) {
        takeover_say($command . ' failed: ' . get_class($e) . ': ' . $e->getMessage(), true);

        return 1;
    }
}

exit(takeover_main($argv));
