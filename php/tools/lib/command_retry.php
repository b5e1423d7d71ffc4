<?php
/**
 * sync-orders.php retry: failed rows back to pending (retryFailed), of
 * every shop or of some, all of them or those of some orders.
 */

function sync_orders_command_retry(): array
{
    return [
        'summary' => 'put failed rows back to pending (all, or some shops or orders)',
        'valued' => ['shop', 'order'],
        'usage' => <<<'TXT'
Usage: sync-orders.php retry [--shop=ID ...] [--order=ID ...] [options]

Puts failed rows back to pending, due at once, with attempts and failures
back to 0 (ShoppingfeedOrderSyncQueue::retryFailed): the next run sends
them again. Fix their cause first (see `failed`), or they fail again.

  --shop=ID           only this shop (repeatable; default: every shop that has failed rows)
  --order=ID          only the rows of this PrestaShop order (repeatable)
%COMMON%
%EXIT%
TXT,
        'handler' => 'sync_orders_retry',
    ];
}

function sync_orders_retry(array $opts, array $positional): int
{
    [$shops, $error] = sync_orders_shops($opts);
    $orders = [];
    foreach ($opts['order'] ?? [] as $order) {
        $id = sync_orders_positive_id((string) $order);
        if ($id === null) {
            $error = $error ?? '--order must be a positive order id, got ' . $order;
        } else {
            $orders[$id] = $id;
        }
    }
    if ($error !== null) {
        sync_orders_error($error);

        return SYNC_EXIT_USAGE;
    }
    $orders = array_values($orders);

    $retried = [];
    try {
        if (!$shops) {
            // retryFailed() works per shop: every shop that has failed rows now.
            foreach (ShoppingfeedOrderSyncQueue::overview() as $line) {
                if ($line['state'] === ShoppingfeedOrderSyncQueue::STATE_FAILED) {
                    $shops[$line['id_shop']] = $line['id_shop'];
                }
            }
            $shops = array_values($shops);
        }
        foreach ($shops as $idShop) {
            $retried[$idShop] = ShoppingfeedOrderSyncQueue::retryFailed($idShop, $orders ?: null);
        }
    } catch (ShoppingfeedSyncException $e) {
        sync_orders_error(sync_orders_failure($e));
        if ($retried) {
            sync_orders_error('rows retried before the error: ' . json_encode($retried));
        }

        return SYNC_EXIT_CONFIG;
    }
    $total = array_sum($retried);

    if (isset($opts['json'])) {
        sync_orders_print_json([
            'database' => sync_orders_database_label(),
            'retried' => $total,
            'shops' => (object) array_map('intval', $retried),
            'orders' => $orders ?: null,
        ]);
    } elseif (!isset($opts['quiet'])) {
        if ($total === 0) {
            $out = 'No failed row' . ($orders ? ' of order ' . implode(', ', $orders) : '') . ($shops ? ' in shop ' . implode(', ', $shops) : '') . ": nothing to retry.\n";
        } else {
            $parts = [];
            foreach ($retried as $idShop => $n) {
                $parts[] = "shop $idShop: $n";
            }
            $out = sprintf("Retried %d failed row%s (%s): pending again, due now; the next run sends them.\n", $total, $total === 1 ? '' : 's', implode(', ', $parts));
        }
        sync_orders_print($out);
    }

    return SYNC_EXIT_OK;
}
