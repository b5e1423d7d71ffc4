<?php
/**
 * The PHP-FPM page of the real-time benchmark (bench/fpm_realtime.php): one
 * merchant's request saving one order update in real-time mode, inline or
 * background (?mode=), timed around saveOrder.
 *
 *   GET save.php?id=ORDER&mode=inline|background|batch
 *
 * Answers JSON: wait_us (saveOrder's duration), returned_at (Unix time in
 * seconds, float, when saveOrder returned), sent (rows sent in the request).
 */
require_once dirname(__DIR__) . '/lib.php';

header('Content-Type: application/json');
$id = (int) ($_GET['id'] ?? 0);
$settings = bench_settings(0) + ['SHOPPINGFEED_ORDER_STATUS_TRACKING_WAIT' => '0'];
$mode = (string) ($_GET['mode'] ?? 'inline');
// batch: the same save with real time off (the floor a real-time save is compared with).
$settings['SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION'] = $mode === 'batch' ? '0' : '1';
$settings['SHOPPINGFEED_REAL_TIME_MODE'] = $mode === 'background' ? 'background' : 'inline';
$a = new ShoppingfeedOrderSyncStatusActions();
$a->setConveyor([
    'id_order' => $id,
    'id_shop' => BENCH_SHOP,
    'order_action' => 'SYNC_STATUS',
    'order' => bench_snapshot($id),
    'token' => BENCH_TOKEN,
    'shoppingfeed_store_id' => BENCH_STORE,
    'settings' => $settings,
]);
$t0 = hrtime(true);
$ok = $a->saveOrder();
$wait = (hrtime(true) - $t0) / 1000;
$returned = microtime(true);
echo json_encode(['ok' => $ok, 'id' => $id, 'wait_us' => $wait, 'returned_at' => $returned,
    'sent' => count($a->getConveyor()['sent'] ?? []), 'pid' => getmypid()]);
