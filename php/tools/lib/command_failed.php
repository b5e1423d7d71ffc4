<?php
/**
 * sync-orders.php failed: the rows given up on (STATE_FAILED), newest first,
 * with the order, the operation, the counters and the last error. Reads only.
 */

function sync_orders_command_failed(): array
{
    return [
        'summary' => 'the failed rows: order, operation, attempts, failures, last error',
        'valued' => ['shop', 'limit'],
        'usage' => <<<'TXT'
Usage: sync-orders.php failed [--shop=ID] [--limit=N] [options]

Lists the updates the extension gave up on (state failed: a ticket failed,
or the API refused the order, as many times as
SHOPPINGFEED_ORDER_STATUS_MAX_ATTEMPTS allows), newest first. Each stays in
the queue until `retry` puts it back to pending (after fixing its cause:
a missing tracking number, a marketplace that refuses the operation...).

  row        the queue row's id (id_shoppingfeed_order)
  attempts   tries that did not succeed, whatever the cause
  failures   order-specific failures (they made the row fail)
  failed at  the row's last change (UTC)

  --shop=ID           only this shop
  --limit=N           rows listed (default 100, at most 10000)
%COMMON%
%EXIT%
TXT,
        'handler' => 'sync_orders_failed',
    ];
}

function sync_orders_failed(array $opts, array $positional): int
{
    [$shops, $error] = sync_orders_shops($opts);
    if ($error === null && count($shops) > 1) {
        $error = '--shop takes one shop here (or none for every shop)';
    }
    if ($error !== null) {
        sync_orders_error($error);

        return SYNC_EXIT_USAGE;
    }
    $idShop = $shops[0] ?? null;
    $limit = sync_orders_last($opts, 'limit') ?? '100';
    if (!preg_match('/^[0-9]{1,5}$/', $limit) || (int) $limit < 1 || (int) $limit > 10000) {
        sync_orders_error('--limit must be a number of rows from 1 to 10000, got ' . $limit);

        return SYNC_EXIT_USAGE;
    }

    try {
        $rows = ShoppingfeedOrderSyncQueue::rows(ShoppingfeedOrderSyncQueue::STATE_FAILED, $idShop, (int) $limit);
        $count = 0;
        foreach (ShoppingfeedOrderSyncQueue::overview() as $line) {
            if ($line['state'] === ShoppingfeedOrderSyncQueue::STATE_FAILED && ($idShop === null || $line['id_shop'] === $idShop)) {
                $count += $line['count'];
            }
        }
    } catch (ShoppingfeedSyncException $e) {
        sync_orders_error(sync_orders_failure($e));

        return SYNC_EXIT_CONFIG;
    }
    // Rows may fail between the two reads: never say fewer than listed.
    $count = max($count, count($rows));

    if (isset($opts['json'])) {
        sync_orders_print_json([
            'database' => sync_orders_database_label(),
            'id_shop' => $idShop,
            'count' => $count,
            'shown' => count($rows),
            'rows' => array_map('sync_orders_failed_summary', $rows),
        ]);
    } elseif (!isset($opts['quiet'])) {
        if (!$rows) {
            $out = $idShop === null ? "No failed row.\n" : "No failed row in shop $idShop.\n";
        } else {
            $out = sprintf("%d failed row%s%s%s, newest first:\n\n", $count, $count === 1 ? '' : 's', $idShop === null ? '' : " in shop $idShop", count($rows) < $count ? sprintf(' (%d shown)', count($rows)) : '');
            $cells = [];
            foreach ($rows as $row) {
                $cells[] = [
                    (string) $row['id_shoppingfeed_order'],
                    (string) $row['id_order'],
                    (string) $row['id_shop'],
                    $row['action'],
                    $row['operation'] ?? '-',
                    (string) $row['attempts'],
                    (string) $row['failures'],
                    $row['date_upd'],
                    sync_orders_one_line($row['last_error']),
                ];
            }
            $out .= sync_orders_table(['row', 'order', 'shop', 'action', 'operation', 'attempts', 'failures', 'failed at', 'last error'], $cells, [0, 1, 2, 5, 6]);
            $out .= "\nSend them again once the cause is fixed: sync-orders.php retry [--shop=ID] [--order=ID ...]\n";
        }
        sync_orders_print($out);
    }

    return $count > 0 ? SYNC_EXIT_ATTENTION : SYNC_EXIT_OK;
}
