<?php
/**
 * Baseline "SDK": N ship/cancel/refund/deliver orders sent from memory with
 * curl_multi, 100 orders a request, 10 in flight; persists nothing and
 * follows no ticket (what the official Shopping Feed PHP SDK does, Guzzle +
 * curl). Prints one JSON line.
 *
 *   php bench/baseline/send_only.php --n=100000 --api-url=http://127.0.0.1:PORT
 */
require_once dirname(__DIR__) . '/lib.php';
require_once __DIR__ . '/HttpPool.php';
require_once __DIR__ . '/Elements.php';

$o = bench_opts($argv);
$n = (int) ($o['n'] ?? 100000);
$api = rtrim((string) $o['api-url'], '/');
$first = (int) ($o['first'] ?? 1);

$t0 = hrtime(true);
$byOp = [];
for ($i = $first; $i < $first + $n; $i++) {
    $order = bench_snapshot($i);
    $op = baseline_operation((int) $order['id_order_state']);
    $byOp[$op][] = baseline_element($op, $order);
}
$requests = (function () use ($byOp, $api) {
    foreach ($byOp as $op => $elements) {
        foreach (array_chunk($elements, 100) as $i => $chunk) {
            yield "$op:$i" => ['POST', "$api/v1/store/" . BENCH_STORE . "/order/$op", json_encode(['order' => $chunk])];
        }
    }
})();
$pool = new HttpPool(BENCH_TOKEN);
$accepted = 0;
$failed = 0;
$pool->run($requests, function ($key, $status, $body) use (&$accepted, &$failed) {
    if ($status === 202) {
        $accepted++;
    } else {
        $failed++;
    }
});
$wall = (hrtime(true) - $t0) / 1e9;
bench_result(['bench' => 'send_only', 'impl' => 'sdk-like curl_multi', 'n' => $n, 'wall_s' => $wall,
    'requests' => $pool->requests, 'accepted' => $accepted, 'failed' => $failed,
    'peak_php_bytes' => memory_get_peak_usage(true), 'max_rss_kib' => bench_max_rss_kib()]);
