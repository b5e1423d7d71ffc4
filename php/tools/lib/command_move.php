<?php
/**
 * sync-orders.php move: copies the rows of an old queue into the current one
 * (ShoppingfeedOrderSyncQueue::importFrom), for a shop switching its queue
 * from a SQLite file to its MySQL database. Idempotent; the old queue is
 * only read.
 */

function sync_orders_command_move(): array
{
    return [
        'summary' => 'copy an old queue\'s rows into the current one (SQLite to MySQL)',
        'valued' => ['from'],
        'flags' => ['include-done'],
        'usage' => <<<'TXT'
Usage: sync-orders.php move --from=OLD [--include-done] [--database=NEW] [options]

Copies every pending, sent and failed row of the queue OLD (a SQLite file
path, a mysql:// URL or "prestashop") into the current queue (--database,
or shoppingfeed_sync.database), with its state, attempts, failures, batch
and ticket: a shop moving its queue to its MySQL database keeps every
update. Done rows only with --include-done. OLD is only read. Running it
again adds nothing (rows copied before are recognised). Stop the crons
first (a cron still working on OLD would send its rows from there too),
switch shoppingfeed_sync.database everywhere, then run it once.

  --from=OLD          the old queue (required)
  --include-done      copy the done rows too (history only)
%COMMON%
%EXIT%
TXT,
        'handler' => 'sync_orders_move',
    ];
}

function sync_orders_move(array $opts, array $positional): int
{
    $from = sync_orders_last($opts, 'from');
    if ($from === null || $from === '') {
        sync_orders_error('move needs --from=OLD (the queue to copy from)');

        return SYNC_EXIT_USAGE;
    }
    sync_orders_add_secret(parse_url($from, PHP_URL_PASS) ?: null);
    try {
        $moved = ShoppingfeedOrderSyncQueue::importFrom($from, isset($opts['include-done']));
    } catch (ShoppingfeedSyncException $e) {
        sync_orders_error(sync_orders_failure($e));

        return SYNC_EXIT_CONFIG;
    }
    if (isset($opts['json'])) {
        sync_orders_print_json(['from' => sync_orders_database_label($from), 'database' => sync_orders_database_label()] + $moved);
    } elseif (!isset($opts['quiet'])) {
        sync_orders_print(sprintf(
            "Moved %d row%s from %s into %s (%d already there, %d done rows left behind).\n",
            $moved['copied'],
            $moved['copied'] === 1 ? '' : 's',
            sync_orders_database_label($from),
            sync_orders_database_label(),
            $moved['already_there'],
            $moved['done_left']
        ));
    }

    return SYNC_EXIT_OK;
}
