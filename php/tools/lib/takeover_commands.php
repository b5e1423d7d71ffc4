<?php
/**
 * shoppingfeed-takeover.php: the three commands. Each returns the exit
 * code (0 done / all good, 1 a problem: each printed as one line with its
 * fix, 2 bad usage).
 */

require_once __DIR__ . '/takeover_shop.php';
require_once __DIR__ . '/takeover_files.php';

/**
 * The state of the takeover in a shop, as problem lines ("what; fix: how").
 *
 * @return string[]
 */
function takeover_problems($root, $fpmUrl)
{
    $problems = [];
    if (takeover_extension_version() === null) {
        $problems[] = 'the shoppingfeed_sync extension is not loaded in this PHP (' . PHP_BINARY . '); fix: add extension=shoppingfeed_sync.so to the php.ini this CLI reads (php --ini), as for PHP-FPM';
    }
    if ($fpmUrl !== null) {
        $fpm = takeover_probe_fpm($root, $fpmUrl);
        if ($fpm['error'] !== null) {
            $problems[] = 'PHP-FPM could not be asked: ' . $fpm['error'] . '; fix: give --php-fpm-url=<the shop\'s base URL>';
        } elseif (!$fpm['ok']) {
            $problems[] = 'the shoppingfeed_sync extension is not loaded in PHP-FPM behind ' . $fpmUrl . '; fix: add extension=shoppingfeed_sync.so to the FPM php.ini and restart PHP-FPM';
        }
    }
    if (!takeover_module_installed($root)) {
        $problems[] = 'the Shopping Feed module is not installed in ' . $root . '/modules/shoppingfeed; fix: install the shoppingfeed module first';

        return $problems;
    }
    if (takeover_overrides_disabled()) {
        $problems[] = 'PrestaShop\'s overrides are disabled (PS_DISABLE_OVERRIDES), so the takeover is not used; fix: Advanced Parameters > Performance > Disable all overrides: No';
    }
    $manifest = takeover_read_manifest($root);
    $plan = takeover_plan($root, $manifest);
    $missing = array_keys($plan, 'place', true);
    if ($manifest === null && count($missing) === count($plan)) {
        $problems[] = 'the takeover is not installed in this shop (none of its ' . count($plan) . ' files is there); fix: php shoppingfeed-takeover.php install --shop=' . $root;
    } else {
        foreach ($plan as $rel => $state) {
            if ($state === 'place') {
                $problems[] = $rel . ' is missing; fix: php shoppingfeed-takeover.php install --shop=' . $root;
            } elseif ($state === 'update') {
                $problems[] = $rel . ' is an older version; fix: php shoppingfeed-takeover.php install --shop=' . $root;
            } elseif ($state === 'changed') {
                $problems[] = $rel . ' was edited since install; fix: install --force puts ours back (keep a copy of the edit)';
            } elseif ($state === 'foreign') {
                $problems[] = $rel . ' is not ours (a file of the shop); fix: merge it with ours by hand, then install';
            }
        }
    }
    foreach (TAKEOVER_HOOKS as $hook) {
        if (!takeover_hook_registered($hook)) {
            $problems[] = 'the module is not registered on the hook ' . $hook . '; fix: php shoppingfeed-takeover.php install --shop=' . $root;
        }
    }

    return $problems;
}

function takeover_check($root, array $options)
{
    $version = takeover_extension_version();
    takeover_say('Extension in this PHP (' . PHP_VERSION . ', ' . PHP_SAPI . '): ' . ($version !== null ? 'shoppingfeed_sync ' . $version : 'not loaded'));
    if ($options['php-fpm-url'] === null) {
        takeover_say('PHP-FPM: not checked (give --php-fpm-url=<the shop\'s base URL> to check it)');
    }
    $problems = takeover_problems($root, $options['php-fpm-url']);
    if (!$problems) {
        takeover_say('OK: the extension takes over the module\'s order sync in ' . $root);

        return 0;
    }
    foreach ($problems as $problem) {
        takeover_say('PROBLEM: ' . $problem);
    }

    return 1;
}

function takeover_install($root, array $options)
{
    $version = takeover_extension_version();
    if ($version === null) {
        takeover_say('Refused: the shoppingfeed_sync extension is not loaded in this PHP (' . PHP_BINARY . '). Load it first (extension=shoppingfeed_sync.so in the php.ini of the CLI and of PHP-FPM), then run install again.', true);

        return 1;
    }
    if (!takeover_module_installed($root)) {
        takeover_say('Refused: the Shopping Feed module is not installed in ' . $root . '/modules/shoppingfeed. Install the module first.', true);

        return 1;
    }
    if ($options['php-fpm-url'] !== null) {
        $fpm = takeover_probe_fpm($root, $options['php-fpm-url']);
        if ($fpm['error'] !== null || !$fpm['ok']) {
            takeover_say('Refused: ' . ($fpm['error'] !== null ? 'PHP-FPM could not be asked: ' . $fpm['error'] : 'the extension is not loaded in PHP-FPM behind ' . $options['php-fpm-url'] . ' (add it to the FPM php.ini and restart PHP-FPM)') . '.', true);

            return 1;
        }
        takeover_say('PHP-FPM: shoppingfeed_sync ' . $fpm['version']);
    }

    $manifest = takeover_read_manifest($root);
    $plan = takeover_plan($root, $manifest);
    $blocked = [];
    foreach ($plan as $rel => $state) {
        if ($state === 'foreign' || ($state === 'changed' && !$options['force'])) {
            $blocked[$rel] = $state;
        }
    }
    if ($blocked) {
        foreach ($blocked as $rel => $state) {
            takeover_say($state === 'foreign'
                ? 'Refused: ' . $rel . ' exists and is not ours (your own override or a file of the module). It is left as it is; merge its code with ours (' . takeover_planned_files()[$rel] . ') by hand, or move it away, then install again.'
                : 'Refused: ' . $rel . ' was edited since install. Keep a copy of your change, then install --force puts ours back.', true);
        }

        return 1;
    }

    $changes = 0;
    $next = [
        'files' => $manifest !== null ? $manifest['files'] : [],
        'dirs' => $manifest !== null ? $manifest['dirs'] : [],
        'hooks' => $manifest !== null ? $manifest['hooks'] : [],
        'version' => $version,
    ];
    $sources = takeover_planned_files();
    foreach ($plan as $rel => $state) {
        if ($state !== 'same') {
            takeover_place($root, $rel, $sources[$rel], $next['dirs']);
            takeover_say(($state === 'place' ? 'placed ' : 'updated ') . $rel);
            $changes++;
        }
        $next['files'][$rel] = hash_file('sha256', $root . '/' . $rel);
    }
    if (takeover_write_manifest($root, $next)) {
        $changes++;
    }
    foreach (TAKEOVER_HOOKS as $hook) {
        if (!takeover_hook_registered($hook)) {
            if (!takeover_register_hook($hook)) {
                takeover_say('PROBLEM: the module could not be registered on the hook ' . $hook . '; fix: register it from the back office (Design > Positions)', true);

                return 1;
            }
            $next['hooks'][] = $hook;
            takeover_say('registered the module on the hook ' . $hook);
            $changes++;
        }
    }
    takeover_write_manifest($root, $next);
    if ($changes > 0) {
        $n = takeover_clear_class_index($root);
        takeover_say(sprintf('deleted %d class index cache file(s) (PrestaShop rebuilds them)', $n));
    }

    // The module's pending task orders into the extension's queue (idempotent).
    $takeoverDir = $root . '/modules/shoppingfeed/classes/takeover/';
    if (is_file($takeoverDir . 'ShoppingfeedOrderSyncTaskOrderMigration.php')) {
        require_once $takeoverDir . 'ShoppingfeedOrderSyncTaskOrderMigration.php';
        $migration = new ShoppingfeedOrderSyncTaskOrderMigration();
        takeover_say('task orders of the module migrated: ' . takeover_counts($migration->run()));
    } else {
        takeover_say('PROBLEM: classes/takeover/ShoppingfeedOrderSyncTaskOrderMigration.php is missing from this release; the module\'s pending task orders were not migrated', true);
    }
    if (is_file($takeoverDir . 'ShoppingfeedOrderSyncSweep.php')) {
        require_once $takeoverDir . 'ShoppingfeedOrderSyncSweep.php';
    }
    foreach (takeover_set_sweep_markers() as $idShop => $marker) {
        if ($marker['set']) {
            takeover_say(sprintf('shop %d: the sweep starts after order history %d', $idShop, $marker['marker']));
            $changes++;
        }
    }

    takeover_say($changes > 0
        ? 'Installed: the extension takes over the module\'s order sync (check: php ' . $GLOBALS['argv'][0] . ' check --shop=' . $root . ').'
        : 'Already installed: nothing changed.');

    return 0;
}

function takeover_remove($root, array $options)
{
    $manifest = takeover_read_manifest($root);
    if ($manifest === null) {
        takeover_say('Nothing to remove: no ' . TAKEOVER_MANIFEST . ' (the takeover is not installed in ' . $root . ').');

        return 0;
    }
    $kept = [];
    foreach ($manifest['files'] as $rel => $hash) {
        $path = $root . '/' . $rel;
        if (!is_file($path)) {
            continue;
        }
        if (hash_file('sha256', $path) !== $hash && !$options['force']) {
            $kept[$rel] = $hash;
            takeover_say('kept ' . $rel . ': edited since install (remove --force deletes it)');
            continue;
        }
        if (!@unlink($path)) {
            takeover_say('PROBLEM: could not delete ' . $rel . '; fix: delete it by hand', true);
            $kept[$rel] = $hash;
            continue;
        }
        takeover_say('removed ' . $rel);
    }
    $removedDirs = takeover_remove_dirs($root, $manifest['dirs']);
    $keptDirs = array_values(array_diff($manifest['dirs'], $removedDirs));
    $keptHooks = [];
    if (takeover_module_installed($root)) {
        foreach ($manifest['hooks'] as $hook) {
            if (takeover_unregister_hook($hook)) {
                takeover_say('unregistered the module from the hook ' . $hook);
            } else {
                $keptHooks[] = $hook;
                takeover_say('PROBLEM: could not unregister the module from the hook ' . $hook . '; fix: unhook it in Design > Positions', true);
            }
        }
    }
    if ($kept || $keptHooks) {
        takeover_write_manifest($root, ['files' => $kept, 'dirs' => $keptDirs, 'hooks' => $keptHooks, 'version' => $manifest['version']]);
    } else {
        @unlink($root . '/' . TAKEOVER_MANIFEST);
    }
    takeover_say(sprintf('deleted %d class index cache file(s)', takeover_clear_class_index($root)));
    // A later install starts the sweep afresh: changes made meanwhile were the module's to send.
    takeover_clear_sweep_markers();

    $pending = takeover_pending_updates();
    if ($pending !== null) {
        takeover_say(sprintf('%d order update(s) still pending in the extension\'s queue: the module does not send them.', $pending));
    }
    if (takeover_extension_version() !== null) {
        takeover_say('Unload the extension now (remove extension=shoppingfeed_sync.so from the php.ini of PHP-FPM and the CLI, restart PHP-FPM): the module\'s own order sync cannot run beside it.');
    }
    takeover_say($kept ? 'Removed, except the edited files above.' : 'Removed: the module is as it was before install.');

    return $kept ? 1 : 0;
}

/** "key N, key N" of a counts array. */
function takeover_counts($counts)
{
    if (!is_array($counts) || !$counts) {
        return 'nothing to do';
    }
    $parts = [];
    foreach ($counts as $key => $value) {
        $parts[] = $key . ' ' . (is_scalar($value) ? var_export($value, true) : json_encode($value));
    }

    return implode(', ', $parts);
}
