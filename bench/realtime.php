<?php
/**
 * Real-time saveOrder: the merchant's request queues the update and sends it
 * at once (one HTTP attempt, bounded by shoppingfeed_sync.timeout_ms). Times
 * each call; run it against the sandbox at its latency, or hanging.
 *
 *   php -d extension=... bench/realtime.php --n=200 --db=Q.sqlite --api-url=URL [--timeout-ms=3000]
 */
require_once __DIR__ . '/lib.php';
require_once dirname(__DIR__) . '/php/tools/lib/standalone.php';

$o = bench_opts($argv);
$n = (int) ($o['n'] ?? 200);
$first = (int) ($o['first'] ?? 1);
ini_set('shoppingfeed_sync.database', (string) $o['db']);
ini_set('shoppingfeed_sync.api_url', (string) $o['api-url']);
if (isset($o['timeout-ms'])) {
    ini_set('shoppingfeed_sync.timeout_ms', (string) $o['timeout-ms']);
}
foreach (bench_settings(0) + ['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '1'] as $k => $v) {
    Configuration::set($k, $v);
}
Configuration::set('SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION', '1');

$times = [];
$sent = 0;
$queued = 0;
for ($i = $first; $i < $first + $n; $i++) {
    $conveyor = [
        'id_order' => $i,
        'id_shop' => BENCH_SHOP,
        'order_action' => 'SYNC_STATUS',
        'order' => bench_snapshot($i),
        'token' => BENCH_TOKEN,
        'shoppingfeed_store_id' => BENCH_STORE,
    ];
    $s = hrtime(true);
    $a = new ShoppingfeedOrderSyncStatusActions();
    $a->setConveyor($conveyor);
    $ok = $a->saveOrder();
    $times[] = hrtime(true) - $s;
    if ($ok !== true) {
        fwrite(STDERR, "saveOrder returned false at $i\n");
        exit(1);
    }
    $rows = ShoppingfeedOrderSyncQueue::find($i);
    $state = end($rows)['state'] ?? null;
    if ($state === ShoppingfeedOrderSyncQueue::STATE_SENT || $state === ShoppingfeedOrderSyncQueue::STATE_DONE) {
        $sent++;
    } else {
        $queued++;
    }
}
$stats = bench_stats($times);
$stats['first_call_us'] = $times[0] / 1000;
bench_result(['bench' => 'realtime', 'n' => $n, 'timeout_ms' => (int) ini_get('shoppingfeed_sync.timeout_ms'),
    'sent_at_once' => $sent, 'left_for_cron' => $queued] + $stats);
