<?php
/**
 * Shared helpers of the benchmark scripts: the workload (order snapshots,
 * settings), timing statistics and the JSON result each script prints on its
 * last line of stdout for bench/run.php.
 */

const BENCH_SHOP = 1;
const BENCH_TOKEN = 'sandbox-token';
const BENCH_STORE = 42;
/** PrestaShop order states of the workload, one per Shopping Feed operation. */
const BENCH_STATES = ['ship' => 4, 'cancel' => 6, 'refund' => 7, 'deliver' => 5];

/** The settings of the workload, as PrestaShop stores them (strings). */
function bench_settings(int $timeShift = 0): array
{
    return [
        'SHOPPINGFEED_SHIPPED_ORDERS' => '[4]',
        'SHOPPINGFEED_CANCELLED_ORDERS' => '[6]',
        'SHOPPINGFEED_REFUNDED_ORDERS' => '[7]',
        'SHOPPINGFEED_DELIVERED_ORDERS' => '[5]',
        'SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT' => (string) $timeShift,
        'SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION' => '0',
    ];
}

/** The snapshot of order $i: the four operations in turn, internal ids (a quarter by reference). */
function bench_snapshot(int $i): array
{
    $ops = ['ship', 'cancel', 'refund', 'deliver'];
    $op = $ops[$i % 4];
    $order = ['id_order_state' => BENCH_STATES[$op]];
    if ($i % 8 === 7) {
        $order['reference'] = 'BENCH-' . $i;
        $order['marketplace'] = 'amazon';
    } else {
        $order['id_internal_shoppingfeed'] = 5000000 + $i;
    }
    if ($op === 'ship') {
        $order['carrier'] = 'Colissimo';
        $order['tracking_number'] = '6A' . str_pad((string) $i, 11, '0', STR_PAD_LEFT);
        $order['tracking_url'] = 'https://www.laposte.fr/outils/suivre-vos-envois?code=6A' . $i;
    } elseif ($op === 'cancel') {
        $order['reason'] = 'out of stock';
    } elseif ($op === 'refund' && $i % 3 === 0) {
        $order['refund'] = ['shipping' => true, 'products' => [['reference' => 'SKU-' . ($i % 97), 'quantity' => 1]]];
    }

    return $order;
}

/** Statistics of per-call durations in nanoseconds, as microseconds. */
function bench_stats(array $ns): array
{
    $n = count($ns);
    sort($ns);
    $at = static function (float $q) use ($ns, $n) {
        return $ns[min($n - 1, (int) ceil($q * $n) - 1)] / 1000;
    };
    $sum = array_sum($ns);
    $over = static function (int $limitNs) use ($ns) {
        $c = 0;
        foreach ($ns as $v) {
            if ($v > $limitNs) {
                $c++;
            }
        }

        return $c;
    };

    return [
        'calls' => $n,
        'median_us' => $at(0.5),
        'p99_us' => $at(0.99),
        'p999_us' => $at(0.999),
        'max_us' => $ns[$n - 1] / 1000,
        'mean_us' => $sum / $n / 1000,
        'calls_per_s' => $sum > 0 ? $n / ($sum / 1e9) : 0,
        'over_1ms' => $over(1000000),
        'over_10ms' => $over(10000000),
    ];
}

/** Prints the result for bench/run.php: one JSON line, last on stdout. */
function bench_result(array $result): void
{
    echo json_encode($result, JSON_UNESCAPED_SLASHES), "\n";
}

/** --name=value options. */
function bench_opts(array $argv): array
{
    $o = [];
    foreach (array_slice($argv, 1) as $a) {
        if (preg_match('/^--([a-z-]+)(?:=(.*))?$/s', $a, $m)) {
            $o[$m[1]] = $m[2] ?? true;
        }
    }

    return $o;
}

/** Max resident set size of this process, in KiB. */
function bench_max_rss_kib(): int
{
    $r = getrusage();

    return (int) ($r['ru_maxrss'] ?? 0);
}
