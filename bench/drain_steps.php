<?php
/**
 * Where the drain's send run spends its time, step by step: the send chain
 * (getBatch, prepareBatch, sendBatch) run directly on a queue that
 * bench/save.php filled, each step timed with hrtime. getBatch and
 * prepareBatch run while no request is in flight (the chain is sequential,
 * as classlib's handler runs it): their sum is the part of the drain that
 * cannot overlap the network in this design, and it gives the best ratio
 * to the network floor that the send run could reach without pipelining
 * chains.
 *
 *   php -d extension=... bench/drain_steps.php --db=Q.sqlite --api-url=URL --latency-ms=20 [--batch=4000]
 */
require_once __DIR__ . '/lib.php';

$o = bench_opts($argv);
$db = (string) $o['db'];
$api = (string) $o['api-url'];
$latency = (int) ($o['latency-ms'] ?? 20);
$batch = (int) ($o['batch'] ?? 4000);
ini_set('shoppingfeed_sync.database', $db);
ini_set('shoppingfeed_sync.api_url', $api);

$settings = bench_settings(0);
$settings['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS'] = (string) $batch;
$t = ['getBatch' => 0, 'prepareBatch' => 0, 'sendBatch' => 0];
$rows = 0;
$chains = 0;
$sent = 0;
$start = hrtime(true);
while (true) {
    $a = new ShoppingfeedOrderSyncStatusActions();
    $a->setConveyor(['id_shop' => BENCH_SHOP, 'order_action' => 'SYNC_STATUS', 'token' => BENCH_TOKEN,
        'shoppingfeed_store_id' => BENCH_STORE, 'settings' => $settings]);
    $t0 = hrtime(true);
    $got = $a->getBatch();
    $t['getBatch'] += hrtime(true) - $t0;
    if (!$got) {
        break;
    }
    $chains++;
    $rows += count($a->getConveyor()['batch']);
    $t0 = hrtime(true);
    $a->prepareBatch();
    $t['prepareBatch'] += hrtime(true) - $t0;
    $t0 = hrtime(true);
    $a->sendBatch();
    $t['sendBatch'] += hrtime(true) - $t0;
    $sent += count($a->getConveyor()['sent'] ?? []);
}
$wall = hrtime(true) - $start;
$log = json_decode((string) file_get_contents("$api/_sandbox/log"), true);
$requests = 0;
foreach ($log['requests'] ?? [] as $e) {
    if (($e['method'] ?? '') === 'POST' && strpos((string) $e['path'], '/order/') !== false) {
        $requests++;
    }
}
$floor = $requests * $latency / 10 * 1e6; // ns: 10 in flight
bench_result([
    'bench' => 'drain_steps', 'rows' => $rows, 'sent' => $sent, 'chains' => $chains, 'batch' => $batch,
    'requests' => $requests, 'wall_s' => $wall / 1e9, 'floor_s' => $floor / 1e9,
    'get_batch_s' => $t['getBatch'] / 1e9, 'prepare_batch_s' => $t['prepareBatch'] / 1e9, 'send_batch_s' => $t['sendBatch'] / 1e9,
    // Per row, the serial part: what each row costs while nothing flies.
    'serial_us_per_row' => $rows > 0 ? ($t['getBatch'] + $t['prepareBatch']) / 1e3 / $rows : 0,
    'ratio' => $floor > 0 ? $wall / $floor : 0,
    'ratio_send_batch_only' => $floor > 0 ? $t['sendBatch'] / $floor : 0,
    'ratio_without_serial' => $floor > 0 ? ($wall - $t['getBatch'] - $t['prepareBatch']) / $floor : 0,
]);
