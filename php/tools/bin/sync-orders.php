<?php
/**
 * sync-orders.php: the order-sync cron and the queue's operator commands,
 * from the command line (crontab, or a person at a terminal), outside
 * PrestaShop.
 *
 *   php -d extension=shoppingfeed_sync php/tools/bin/sync-orders.php [COMMAND] [options]
 *
 *   run      (the default) the cron once: the module's syncOrderPostImport
 *            controller with the stand-ins of php/tools/lib/standalone.php
 *   status   the queue per shop and action: states, oldest due, failures
 *   failed   the failed rows with their last error
 *   retry    failed rows back to pending
 *   purge    done rows older than N days deleted
 *   show     every row of one order, its snapshot and counters
 *
 * Each command takes --json, -q and --help; `sync-orders.php COMMAND --help`
 * says what it prints and its exit codes (lib/cli.php: 0 done, 1 needs
 * attention, 2 usage, 3 locked, 4 extension or queue unusable). The token
 * (--token or SHOPPINGFEED_AUTH_TOKEN) and a database password are never
 * printed. One file per command in php/tools/lib/command_*.php.
 */

require_once dirname(__DIR__) . '/lib/cli.php';

const SYNC_COMMANDS = ['run', 'status', 'failed', 'retry', 'purge', 'show', 'move'];

foreach (SYNC_COMMANDS as $syncCommand) {
    require_once dirname(__DIR__) . '/lib/command_' . $syncCommand . '.php';
}
unset($syncCommand);

/** A command's definition, its help filled in. */
function sync_orders_command(string $name): array
{
    $command = ('sync_orders_command_' . $name)();
    $command['usage'] = strtr($command['usage'], [
        '%COMMON%' => sync_orders_common_help(),
        '%EXIT%' => sync_orders_exit_help(),
    ]);

    return $command;
}

/** The overview of every command: `sync-orders.php --help`. */
function sync_orders_usage(): string
{
    $out = "Usage: php -d extension=shoppingfeed_sync sync-orders.php [COMMAND] [options]\n\nCommands:\n";
    foreach (SYNC_COMMANDS as $name) {
        $out .= sprintf("  %-8s %s\n", $name, sync_orders_command($name)['summary']);
    }
    $out .= "\n`sync-orders.php COMMAND --help` shows a command's options, output and exit codes.\n";
    $out .= "Without a command, the options are those of run:\n\n";

    return $out . sync_orders_command('run')['usage'];
}

function sync_orders_main(array $argv): int
{
    $args = array_slice($argv, 1);
    $name = 'run';
    $explicit = false;
    if ($args && $args[0] !== '' && $args[0][0] !== '-') {
        if (!in_array($args[0], SYNC_COMMANDS, true)) {
            fwrite(STDERR, 'sync-orders: unknown command ' . $args[0] . ' (one of ' . implode(', ', SYNC_COMMANDS) . ")\n\n" . sync_orders_usage());

            return SYNC_EXIT_USAGE;
        }
        $name = array_shift($args);
        $explicit = true;
    }
    $command = sync_orders_command($name);
    [$opts, $positional, $error] = sync_orders_parse_args($args, $command);
    if ($error !== null) {
        fwrite(STDERR, 'sync-orders: ' . $error . "\n\n" . $command['usage']);

        return SYNC_EXIT_USAGE;
    }
    if (isset($opts['help'])) {
        echo $explicit ? $command['usage'] : sync_orders_usage();

        return SYNC_EXIT_OK;
    }
    if (!extension_loaded('shoppingfeed_sync')) {
        fwrite(STDERR, "sync-orders: the PHP extension shoppingfeed_sync is not loaded; run php with -d extension=shoppingfeed_sync (installed) or -d extension=/path/to/libshoppingfeed_sync.so\n");

        return SYNC_EXIT_CONFIG;
    }
    $error = sync_orders_apply_database($opts);
    if ($error !== null) {
        sync_orders_error($error);

        return SYNC_EXIT_CONFIG;
    }
    sync_orders_collect_secrets($opts);

    return $command['handler']($opts, $positional);
}

exit(sync_orders_main($argv));
