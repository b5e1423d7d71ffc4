<?php
/**
 * sync-orders.php status: what the queue holds, per shop and action (counts
 * per state, what is due and since when, what waits for its ticket), and
 * the failed rows with their last error. Reads only.
 */

function sync_orders_command_status(): array
{
    return [
        'summary' => 'the queue per shop and action: states, oldest due update, failures',
        'valued' => ['shop', 'limit'],
        'usage' => <<<'TXT'
Usage: sync-orders.php status [--shop=ID ...] [--limit=N] [options]

Shows what the queue holds, read in one snapshot (it never waits for the
cron or the shop). One line per shop and action, the action as stored:
SYNC_STATUS holds the updates to send (and those done or failed at
sending), CHECK_TICKET_SYNC_STATUS those sent whose ticket is to be read.

  pending      updates waiting to be sent
  due          of them, due now (the next run sends them)
  oldest due   how long the oldest due update has waited: if this grows,
               the cron does not run, or cannot keep up
  next due     when the next update that is not due yet becomes due
               (a shipped order waiting for its tracking number, a retry)
  claimed      rows leased to a run right now
  sent         sent, ticket not read or not final yet
  oldest sent  how long the oldest of them has waited for its ticket
  done         settled (kept until purge)
  failed       given up: retry them with `retry` once the cause is fixed

Then the failed rows, newest first, with their last error.

  --shop=ID           only this shop (repeatable)
  --limit=N           failed rows listed (default 10, 0 for none; `failed` lists more)
%COMMON%
%EXIT%
TXT,
        'handler' => 'sync_orders_status',
    ];
}

/**
 * The overview folded per (shop, action): the numbers of the status table.
 *
 * @param list<array> $lines  ShoppingfeedOrderSyncQueue::overview()
 * @param list<int>   $shops  only these shops (empty: every shop)
 *
 * @return list<array<string, mixed>>
 */
function sync_orders_status_table(array $lines, array $shops): array
{
    $table = [];
    foreach ($lines as $line) {
        if ($shops && !in_array($line['id_shop'], $shops, true)) {
            continue;
        }
        $key = $line['id_shop'] . "\0" . $line['action'];
        if (!isset($table[$key])) {
            $table[$key] = [
                'id_shop' => $line['id_shop'],
                'action' => $line['action'],
                'pending' => 0,
                'due' => 0,
                'oldest_due_age' => null,
                'oldest_due_at' => null,
                'next_due_in' => null,
                'next_due_at' => null,
                'claimed' => 0,
                'sent' => 0,
                'oldest_sent_age' => null,
                'done' => 0,
                'failed' => 0,
                'last_change_at' => null,
            ];
        }
        $row = &$table[$key];
        $row[$line['state']] += $line['count'];
        $row['claimed'] += $line['claimed'];
        if ($line['state'] === ShoppingfeedOrderSyncQueue::STATE_PENDING) {
            $row['due'] += $line['due'];
            $row['oldest_due_age'] = $line['oldest_due_age'];
            $row['oldest_due_at'] = $line['oldest_due_at'];
            $row['next_due_in'] = $line['next_due_in'];
            $row['next_due_at'] = $line['next_due_at'];
        } elseif ($line['state'] === ShoppingfeedOrderSyncQueue::STATE_SENT) {
            $row['oldest_sent_age'] = $line['oldest_due_age'];
        }
        if ($row['last_change_at'] === null || strcmp($line['last_change_at'], $row['last_change_at']) > 0) {
            $row['last_change_at'] = $line['last_change_at'];
        }
        unset($row);
    }

    return array_values($table);
}

function sync_orders_status(array $opts, array $positional): int
{
    [$shops, $error] = sync_orders_shops($opts);
    if ($error !== null) {
        sync_orders_error($error);

        return SYNC_EXIT_USAGE;
    }
    $limit = sync_orders_last($opts, 'limit') ?? '10';
    if (!preg_match('/^[0-9]{1,5}$/', $limit) || (int) $limit > 10000) {
        sync_orders_error('--limit must be a number of rows from 0 to 10000, got ' . $limit);

        return SYNC_EXIT_USAGE;
    }
    $limit = (int) $limit;

    try {
        $lines = ShoppingfeedOrderSyncQueue::overview();
        $table = sync_orders_status_table($lines, $shops);
        $failedCount = array_sum(array_column($table, 'failed'));
        $failedRows = [];
        if ($limit > 0 && $failedCount > 0) {
            foreach ($shops ?: [null] as $idShop) {
                $failedRows = array_merge($failedRows, ShoppingfeedOrderSyncQueue::rows(ShoppingfeedOrderSyncQueue::STATE_FAILED, $idShop, $limit));
            }
            // Several shops: newest first across them, then the limit.
            usort($failedRows, static function (array $a, array $b): int {
                return [$b['date_upd'], $b['id_shoppingfeed_order']] <=> [$a['date_upd'], $a['id_shoppingfeed_order']];
            });
            $failedRows = array_slice($failedRows, 0, $limit);
        }
    } catch (ShoppingfeedSyncException $e) {
        sync_orders_error(sync_orders_failure($e));

        return SYNC_EXIT_CONFIG;
    }
    $readAt = $lines ? $lines[0]['now'] : gmdate('Y-m-d H:i:s');
    $totals = ['pending' => 0, 'due' => 0, 'claimed' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0];
    foreach ($table as $row) {
        foreach (array_keys($totals) as $key) {
            $totals[$key] += $row[$key];
        }
    }

    if (isset($opts['json'])) {
        sync_orders_print_json([
            'database' => sync_orders_database_label(),
            'read_at' => $readAt,
            'shops' => $shops ?: null,
            'actions' => $table,
            'totals' => $totals,
            'failed' => [
                'count' => $failedCount,
                'shown' => count($failedRows),
                'rows' => array_map('sync_orders_failed_summary', $failedRows),
            ],
            'lines' => array_values(array_filter($lines, static function (array $line) use ($shops): bool {
                return !$shops || in_array($line['id_shop'], $shops, true);
            })),
        ]);
    } elseif (!isset($opts['quiet'])) {
        $out = sprintf("Queue %s, read at %s UTC\n\n", sync_orders_database_label(), $readAt);
        if (!$table) {
            $out .= $shops ? "No queue row for shop " . implode(', ', $shops) . ".\n" : "The queue is empty.\n";
        } else {
            $cells = [];
            foreach ($table as $row) {
                $cells[] = [
                    (string) $row['id_shop'],
                    $row['action'],
                    (string) $row['pending'],
                    (string) $row['due'],
                    sync_orders_duration($row['oldest_due_age']),
                    $row['next_due_in'] === null ? '-' : 'in ' . sync_orders_duration($row['next_due_in']),
                    (string) $row['claimed'],
                    (string) $row['sent'],
                    sync_orders_duration($row['oldest_sent_age']),
                    (string) $row['done'],
                    (string) $row['failed'],
                ];
            }
            $out .= sync_orders_table(
                ['shop', 'action', 'pending', 'due', 'oldest due', 'next due', 'claimed', 'sent', 'oldest sent', 'done', 'failed'],
                $cells,
                [0, 2, 3, 6, 7, 9, 10]
            );
            $out .= sprintf(
                "\nTotal: %d pending (%d due), %d sent awaiting their ticket, %d done, %d failed.\n",
                $totals['pending'],
                $totals['due'],
                $totals['sent'],
                $totals['done'],
                $totals['failed']
            );
        }
        if ($failedCount > 0) {
            $out .= sprintf("\nFailed rows: %d", $failedCount);
            $out .= $failedRows ? sprintf(' (the %d newest; `failed` lists them, `retry` sends them again)', count($failedRows)) : '';
            $out .= "\n";
            foreach ($failedRows as $row) {
                $out .= sprintf(
                    "  order %d (shop %d) %s, %d attempt%s, %d failure%s, %s: %s\n",
                    $row['id_order'],
                    $row['id_shop'],
                    $row['operation'] ?? $row['action'],
                    $row['attempts'],
                    $row['attempts'] === 1 ? '' : 's',
                    $row['failures'],
                    $row['failures'] === 1 ? '' : 's',
                    $row['date_upd'],
                    sync_orders_one_line($row['last_error'])
                );
            }
        }
        sync_orders_print($out);
    }

    return $failedCount > 0 ? SYNC_EXIT_ATTENTION : SYNC_EXIT_OK;
}

/** A failed row as the status and failed commands show it (no snapshot: `show` has it). */
function sync_orders_failed_summary(array $row): array
{
    return [
        'id_shoppingfeed_order' => $row['id_shoppingfeed_order'],
        'id_order' => $row['id_order'],
        'id_shop' => $row['id_shop'],
        'action' => $row['action'],
        'operation' => $row['operation'],
        'attempts' => $row['attempts'],
        'failures' => $row['failures'],
        'last_error' => $row['last_error'],
        'failed_at' => $row['date_upd'],
        'date_add' => $row['date_add'],
    ];
}
