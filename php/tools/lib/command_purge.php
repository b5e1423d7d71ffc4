<?php
/**
 * sync-orders.php purge: deletes the done rows unchanged for some days
 * (ShoppingfeedOrderSyncQueue::purge). Pending, sent and failed rows are
 * never deleted.
 */

function sync_orders_command_purge(): array
{
    return [
        'summary' => 'delete done rows unchanged for N days',
        'valued' => ['days'],
        'usage' => <<<'TXT'
Usage: sync-orders.php purge --days=N [options]

Deletes the done rows whose last change is older than N days (0 to 36500).
Pending, sent and failed rows are never deleted: an update is never lost
to a purge. A crontab line once a day keeps the queue small, e.g.
  17 3 * * *  php -d extension=shoppingfeed_sync sync-orders.php purge --days=30 -q

  --days=N            the age, in days, of the done rows to delete (required)
%COMMON%
%EXIT%
TXT,
        'handler' => 'sync_orders_purge',
    ];
}

function sync_orders_purge(array $opts, array $positional): int
{
    $days = sync_orders_last($opts, 'days');
    if ($days === null) {
        sync_orders_error('purge needs --days=N (done rows unchanged for N days are deleted)');

        return SYNC_EXIT_USAGE;
    }
    if (!preg_match('/^[0-9]{1,5}$/', $days) || (int) $days > 36500) {
        sync_orders_error('--days must be a number of days from 0 to 36500, got ' . $days);

        return SYNC_EXIT_USAGE;
    }
    try {
        $purged = ShoppingfeedOrderSyncQueue::purge((int) $days);
    } catch (ShoppingfeedSyncException $e) {
        sync_orders_error(sync_orders_failure($e));

        return SYNC_EXIT_CONFIG;
    }
    if (isset($opts['json'])) {
        sync_orders_print_json(['database' => sync_orders_database_label(), 'purged' => $purged, 'days' => (int) $days]);
    } elseif (!isset($opts['quiet'])) {
        sync_orders_print(sprintf("Purged %d done row%s unchanged for %d day%s.\n", $purged, $purged === 1 ? '' : 's', (int) $days, (int) $days === 1 ? '' : 's'));
    }

    return SYNC_EXIT_OK;
}
