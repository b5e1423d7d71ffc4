<?php
/**
 * sync-orders.php show ORDER_ID: every queue row of one PrestaShop order,
 * its snapshot and what the row records of its attempts.
 */

function sync_orders_command_show(): array
{
    return [
        'summary' => 'every queue row of one order: snapshot, state, attempts, last error',
        'positional' => 1,
        'usage' => <<<'TXT'
Usage: sync-orders.php show ORDER_ID [options]

Shows every queue row of one PrestaShop order (all shops, oldest first:
one row per action, e.g. its status and its invoices): the state, the
operation, the snapshot that is (or was) sent, the batch and ticket ids,
and what the row keeps of its history.

About the history of attempts: the queue keeps no log of each attempt.
A row carries its counters (attempts: tries that did not succeed, whatever
the cause; failures: order-specific failures), the last error only, and
three dates: created (date_add), last change (date_upd) and due
(update_at, the next try). Earlier errors are not kept; the cron's own
log (the module's "Logs & crons" page, or the output of `run`) has them.

%COMMON%
%EXIT%
TXT,
        'handler' => 'sync_orders_show',
    ];
}

function sync_orders_show(array $opts, array $positional): int
{
    if (!$positional) {
        sync_orders_error('show needs an order id: sync-orders.php show ORDER_ID');

        return SYNC_EXIT_USAGE;
    }
    $idOrder = sync_orders_positive_id($positional[0]);
    if ($idOrder === null) {
        sync_orders_error('ORDER_ID must be a positive order id, got ' . $positional[0]);

        return SYNC_EXIT_USAGE;
    }
    try {
        $rows = ShoppingfeedOrderSyncQueue::find($idOrder);
    } catch (ShoppingfeedSyncException $e) {
        sync_orders_error(sync_orders_failure($e));

        return SYNC_EXIT_CONFIG;
    }

    if (isset($opts['json'])) {
        sync_orders_print_json([
            'database' => sync_orders_database_label(),
            'id_order' => $idOrder,
            'rows' => $rows,
            'history' => 'the queue keeps no log of attempts: each row holds its counters (attempts, failures), its last error and its dates',
        ]);
    } elseif (!isset($opts['quiet'])) {
        if (!$rows) {
            $out = "Order $idOrder has no queue row (never queued, or done and purged).\n";
        } else {
            $out = sprintf("Order %d: %d queue row%s\n", $idOrder, count($rows), count($rows) === 1 ? '' : 's');
            foreach ($rows as $row) {
                $out .= sprintf(
                    "\nrow %d  shop %d  %s  %s%s\n",
                    $row['id_shoppingfeed_order'],
                    $row['id_shop'],
                    $row['action'],
                    $row['state'],
                    $row['operation'] !== null ? '  operation ' . $row['operation'] : ''
                );
                $out .= sprintf("  created      %s UTC\n", $row['date_add']);
                $out .= sprintf("  last change  %s UTC\n", $row['date_upd']);
                if (in_array($row['state'], [ShoppingfeedOrderSyncQueue::STATE_PENDING, ShoppingfeedOrderSyncQueue::STATE_SENT], true)) {
                    $out .= sprintf("  due          %s UTC%s\n", $row['update_at'], $row['state'] === ShoppingfeedOrderSyncQueue::STATE_SENT ? ' (its ticket is read then)' : '');
                }
                $out .= sprintf("  attempts     %d (tries that did not succeed), failures %d (order-specific)\n", $row['attempts'], $row['failures']);
                if ($row['batch_id'] !== null || $row['ticket_id'] !== null) {
                    $out .= sprintf("  batch        %s, ticket %s\n", $row['batch_id'] ?? '-', $row['ticket_id'] ?? '-');
                }
                $out .= sprintf("  last error   %s\n", $row['last_error'] === null || $row['last_error'] === '' ? '-' : $row['last_error']);
                $snapshot = json_encode($row['payload'], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
                $out .= "  snapshot\n    " . str_replace("\n", "\n    ", (string) $snapshot) . "\n";
            }
            $out .= "\nHistory: the queue keeps no log of attempts; each row holds its counters, its last error and its dates.\n";
        }
        sync_orders_print($out);
    }

    return $rows ? SYNC_EXIT_OK : SYNC_EXIT_ATTENTION;
}
