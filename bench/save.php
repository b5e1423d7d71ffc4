<?php
/**
 * saveOrder in batch mode: N calls from PHP into a SQLite file, each timed.
 *
 *   php -d extension=... bench/save.php --impl=ext --n=100000 --db=/tmp/q.sqlite
 *   php bench/save.php --impl=pdo --n=100000 --db=/tmp/q.sqlite [--sync=full]
 *
 * The queued updates are due at once (SHOPPINGFEED_ORDER_STATUS_TIME_SHIFT=0,
 * or --time-shift=MINUTES): the drain benchmark sends them next.
 *
 * impl=ext: the extension (ShoppingfeedOrderSyncStatusActions::saveOrder);
 * impl=pdo: the plain-PHP baseline (bench/baseline/PdoOrderQueue.php);
 * impl=pdo-minimal: issue 11's floor (bench/baseline/PdoMinimalUpsert.php);
 * impl=pdo-mysql: its MySQL twin (bench/baseline/PdoMysqlOrderQueue.php),
 * --db then a mysql:// URL (as it is for impl=ext on the MySQL store).
 * Both read their settings through PrestaShop's Configuration (the
 * standalone stand-in), as inside the merchant's request.
 */
require_once __DIR__ . '/lib.php';
require_once dirname(__DIR__) . '/php/tools/lib/standalone.php';
require_once __DIR__ . '/baseline/PdoOrderQueue.php';
require_once __DIR__ . '/baseline/PdoMysqlOrderQueue.php';
require_once __DIR__ . '/baseline/PdoMinimalUpsert.php';

$o = bench_opts($argv);
$impl = $o['impl'] ?? 'ext';
$n = (int) ($o['n'] ?? 100000);
$db = (string) ($o['db'] ?? sys_get_temp_dir() . '/bench-save.sqlite');
$first = (int) ($o['first'] ?? 1);
foreach (bench_settings((int) ($o['time-shift'] ?? 0)) as $k => $v) {
    Configuration::set($k, $v);
}

if ($impl === 'ext') {
    ini_set('shoppingfeed_sync.database', $db);
    $save = static function (array $conveyor) {
        $a = new ShoppingfeedOrderSyncStatusActions();
        $a->setConveyor($conveyor);

        return $a->saveOrder();
    };
} elseif ($impl === 'pdo-minimal') {
    $queue = new PdoMinimalUpsert($db);
    $save = static function (array $conveyor) use ($queue) {
        return $queue->saveOrder($conveyor);
    };
} elseif ($impl === 'pdo-mysql') {
    $queue = new PdoMysqlOrderQueue($db);
    $save = static function (array $conveyor) use ($queue) {
        return $queue->saveOrder($conveyor);
    };
} else {
    $queue = new PdoOrderQueue($db, ($o['sync'] ?? 'normal') === 'full');
    $save = static function (array $conveyor) use ($queue) {
        return $queue->saveOrder($conveyor);
    };
}

$times = [];
$t0 = hrtime(true);
for ($i = $first; $i < $first + $n; $i++) {
    $conveyor = [
        'id_order' => $i,
        'id_shop' => BENCH_SHOP,
        'order_action' => 'SYNC_STATUS',
        'order' => bench_snapshot($i),
    ];
    $s = hrtime(true);
    $ok = $save($conveyor);
    $times[] = hrtime(true) - $s;
    if ($ok !== true) {
        fwrite(STDERR, "saveOrder returned false at $i\n");
        exit(1);
    }
}
$wall = (hrtime(true) - $t0) / 1e9;
$stats = bench_stats($times);
$stats['first_call_us'] = $times[0] / 1000;
bench_result(['bench' => 'save', 'impl' => $impl, 'n' => $n, 'wall_s' => $wall, 'max_rss_kib' => bench_max_rss_kib()] + $stats);
