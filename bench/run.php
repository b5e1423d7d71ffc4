<?php
/**
 * The benchmark driver: runs every workload of the extension and of the
 * plain-PHP baselines side by side, against one local Shopping Feed sandbox,
 * prints a table and writes docs/BENCHMARKS.md. Run it through
 * scripts/bench.sh (which installs and builds first).
 *
 * Environment:
 *   BENCH_SCALE=small      a quick run (10,000 updates) instead of the issue's sizes
 *   BENCH_SAVE_N, BENCH_DRAIN_N, BENCH_SCALES=1000,10000,100000, BENCH_BATCH=4000,
 *   BENCH_RT_N, BENCH_HANG_N, BENCH_RL_N, BENCH_LATENCY_MS=20     override single sizes
 *   BENCH_OUT=docs/BENCHMARKS.md   where to write the report ("-": nowhere)
 *   BENCH_EXT, BENCH_SANDBOX       the extension and the sandbox binary (target/release)
 *   BENCH_DIR                      work directory (default var/bench, removed at the end)
 */

$root = dirname(__DIR__);
require_once __DIR__ . '/lib.php';

$scale = getenv('BENCH_SCALE') ?: 'default';
$small = $scale === 'small';
$env = static function (string $name, $default) {
    $v = getenv($name);

    return $v === false || $v === '' ? $default : $v;
};
$cfg = [
    'save_n' => (int) $env('BENCH_SAVE_N', $small ? 10000 : 100000),
    'full_n' => (int) $env('BENCH_FULL_N', $small ? 2000 : 10000),
    'drain_n' => (int) $env('BENCH_DRAIN_N', $small ? 10000 : 100000),
    'scales' => array_map('intval', explode(',', (string) $env('BENCH_SCALES', $small ? '1000,10000' : '1000,10000,100000'))),
    'batch' => (int) $env('BENCH_BATCH', 4000),
    'rt_n' => (int) $env('BENCH_RT_N', $small ? 50 : 200),
    'hang_n' => (int) $env('BENCH_HANG_N', 3),
    'hang_timeout_ms' => (int) $env('BENCH_HANG_TIMEOUT_MS', 1000),
    'latency_ms' => (int) $env('BENCH_LATENCY_MS', 20),
    'in_flight' => 10,
];
$ext = (string) $env('BENCH_EXT', "$root/target/release/libshoppingfeed_sync.so");
$sandboxBin = (string) $env('BENCH_SANDBOX', "$root/target/release/sf-sandbox");
$out = (string) $env('BENCH_OUT', "$root/docs/BENCHMARKS.md");
$work = (string) $env('BENCH_DIR', "$root/var/bench");
foreach ([$ext, $sandboxBin] as $f) {
    if (!is_file($f)) {
        fwrite(STDERR, "bench: $f is missing: run scripts/setup.sh (cargo build --release --workspace)\n");
        exit(2);
    }
}
bench_rmdir($work);
mkdir($work, 0775, true);
$startedAt = gmdate('Y-m-d H:i') . ' UTC';
$t0 = microtime(true);

function bench_rmdir(string $dir): void
{
    if (!is_dir($dir)) {
        return;
    }
    foreach (scandir($dir) as $f) {
        if ($f !== '.' && $f !== '..') {
            is_dir("$dir/$f") ? bench_rmdir("$dir/$f") : unlink("$dir/$f");
        }
    }
    rmdir($dir);
}

function say(string $msg): void
{
    fwrite(STDERR, '[' . date('H:i:s') . "] $msg\n");
}

/** Runs a command; returns [exit code, stdout, stderr, wall seconds]. */
function run_cmd(array $cmd, array $env = []): array
{
    $spec = [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']];
    $start = hrtime(true);
    $p = proc_open($cmd, $spec, $pipes, null, $env + getenv());
    $stdout = stream_get_contents($pipes[1]);
    $stderr = stream_get_contents($pipes[2]);
    fclose($pipes[1]);
    fclose($pipes[2]);
    $code = proc_close($p);

    return [$code, $stdout, $stderr, (hrtime(true) - $start) / 1e9];
}

/** Runs a bench script; returns its JSON result (the last line of stdout). */
function run_json(array $cmd, array $env = []): array
{
    [$code, $stdout, $stderr, $wall] = run_cmd($cmd, $env);
    $lines = array_values(array_filter(explode("\n", trim($stdout))));
    $json = $lines ? json_decode((string) end($lines), true) : null;
    if ($code !== 0 || !is_array($json)) {
        fwrite(STDERR, "bench: failed ($code): " . implode(' ', $cmd) . "\n$stdout\n$stderr\n");
        exit(1);
    }
    $json['process_wall_s'] = $wall;

    return $json;
}

/** The sandbox's control API. */
function sandbox(string $method, string $path, ?array $body = null): array
{
    global $sandboxUrl;
    $ctx = stream_context_create(['http' => [
        'method' => $method,
        'header' => "Content-Type: application/json\r\n",
        'content' => $body === null ? '' : json_encode($body),
        'ignore_errors' => true,
        'timeout' => 30,
    ]]);
    $answer = file_get_contents($sandboxUrl . $path, false, $ctx);

    return is_array($decoded = json_decode((string) $answer, true)) ? $decoded : [];
}

// The sandbox: one process for every workload, reset between them.
$sbOut = "$work/sandbox.out";
$sandboxProc = proc_open([$sandboxBin, '--port', '0', '--latency-ms', (string) $cfg['latency_ms']],
    [0 => ['file', '/dev/null', 'r'], 1 => ['file', $sbOut, 'w'], 2 => ['file', "$work/sandbox.err", 'w']], $pipes);
register_shutdown_function(static function () use ($sandboxProc) {
    if (is_resource($sandboxProc)) {
        proc_terminate($sandboxProc);
        proc_close($sandboxProc);
    }
});
$sandboxUrl = null;
for ($i = 0; $i < 200 && $sandboxUrl === null; $i++) {
    usleep(25000);
    if (preg_match('~listening on (http://\S+)~', (string) @file_get_contents($sbOut), $m)) {
        $sandboxUrl = $m[1];
    }
}
if ($sandboxUrl === null) {
    fwrite(STDERR, "bench: the sandbox did not start\n");
    exit(1);
}
say("sandbox at $sandboxUrl, {$cfg['latency_ms']} ms per request; work dir $work");

$php = PHP_BINARY;
$extArgs = ['-d', "extension=$ext"];
$R = ['config' => $cfg, 'scale' => $scale];

// 1. saveOrder in batch mode: the extension, then the PDO baseline (NORMAL and FULL).
say("saveOrder x {$cfg['save_n']}: extension");
$R['save_ext'] = run_json(array_merge([$php], $extArgs, ["$root/bench/save.php", '--impl=ext', "--n={$cfg['save_n']}", "--db=$work/ext.sqlite"]));
say("saveOrder x {$cfg['save_n']}: PDO baseline");
$R['save_pdo'] = run_json([$php, "$root/bench/save.php", '--impl=pdo', "--n={$cfg['save_n']}", "--db=$work/pdo.sqlite"]);
say("saveOrder x {$cfg['save_n']}: minimal PDO upsert (issue 11's floor)");
$R['save_min'] = run_json([$php, "$root/bench/save.php", '--impl=pdo-minimal', "--n={$cfg['save_n']}", "--db=$work/pdo-min.sqlite"]);
say("saveOrder x {$cfg['full_n']}: synchronous=FULL, extension and PDO");
$R['save_ext_full'] = run_json(array_merge([$php], $extArgs, ['-d', 'shoppingfeed_sync.synchronous=full', "$root/bench/save.php", '--impl=ext', "--n={$cfg['full_n']}", "--db=$work/ext-full.sqlite"]));
$R['save_pdo_full'] = run_json([$php, "$root/bench/save.php", '--impl=pdo', '--sync=full', "--n={$cfg['full_n']}", "--db=$work/pdo-full.sqlite"]);

// 2. The drain through the real cron runner (php/tools/bin/sync-orders.php).
$cronSettings = [];
foreach (bench_settings(0) + ['SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS' => (string) $cfg['batch']] as $k => $v) {
    $cronSettings[] = '--set';
    $cronSettings[] = "$k=$v";
}

/** One cron run: wall time (process), its JSON summary, peak memory, requests made. */
function cron_run(string $db): array
{
    global $php, $extArgs, $root, $sandboxUrl, $cronSettings, $work;
    $before = sandbox('GET', '/_sandbox/stats?ticketed=0');
    @unlink("$work/peak.json");
    [$code, $stdout, $stderr, $wall] = run_cmd(array_merge([$php], $extArgs, ['-d', "auto_prepend_file=$root/bench/peak.php",
        "$root/php/tools/bin/sync-orders.php", '--shop=' . BENCH_SHOP, '--store-id=' . BENCH_STORE, "--api-url=$sandboxUrl",
        "--database=$db", '--no-lock', '--time-budget=600', '--json'], $cronSettings),
        ['SHOPPINGFEED_AUTH_TOKEN' => BENCH_TOKEN, 'BENCH_PEAK_FILE' => "$work/peak.json"]);
    $summary = json_decode($stdout, true);
    if ($code !== 0 || !is_array($summary)) {
        fwrite(STDERR, "bench: the cron failed ($code)\n$stdout\n$stderr\n");
        exit(1);
    }
    $after = sandbox('GET', '/_sandbox/stats?ticketed=0');
    $peak = json_decode((string) @file_get_contents("$work/peak.json"), true) ?: [];

    return [
        'wall_s' => $wall,
        'cron_duration_ms' => $summary['duration_ms'],
        'totals' => $summary['totals'],
        'requests' => $after['requests'] - $before['requests'],
        'order_requests' => $after['order_requests'] - $before['order_requests'],
        'ticket_requests' => $after['ticket_requests'] - $before['ticket_requests'],
        'max_in_flight' => $after['max_in_flight'],
        'peak_php_bytes' => $peak['peak_php_bytes'] ?? null,
        'max_rss_kib' => $peak['max_rss_kib'] ?? null,
    ];
}

/** Queue counts by state (straight from the file or the table, through PDO). */
function queue_counts(string $db): array
{
    if (strncasecmp($db, 'mysql://', 8) === 0) {
        $p = parse_url($db);
        parse_str($p['query'] ?? '', $q);
        $pdo = new PDO(sprintf('mysql:host=%s;port=%d;dbname=%s', $p['host'], $p['port'] ?? 3306, ltrim($p['path'], '/')),
            rawurldecode($p['user'] ?? ''), rawurldecode($p['pass'] ?? ''));
        $sql = 'SELECT state, COUNT(*) FROM `' . ($q['prefix'] ?? '') . 'shoppingfeed_order_sync_queue` GROUP BY state';
    } else {
        $pdo = new PDO("sqlite:$db");
        $sql = 'SELECT state, COUNT(*) FROM shoppingfeed_order GROUP BY state';
    }
    $out = ['pending' => 0, 'sent' => 0, 'done' => 0, 'failed' => 0];
    foreach ($pdo->query($sql) as [$state, $n]) {
        $out[$state] = (int) $n;
    }

    return $out;
}

/** Drains a queue file with the extension's cron: the send run, then the ticket run. */
function drain_ext(string $db, int $n): array
{
    global $cfg;
    sandbox('POST', '/_sandbox/reset');
    $send = cron_run($db);
    $check = cron_run($db);
    $counts = queue_counts($db);
    $requests = $send['requests'] + $check['requests'];
    $wall = $send['wall_s'] + $check['wall_s'];
    $floor = static function (int $requests) use ($cfg) {
        return $requests * $cfg['latency_ms'] / 1000 / $cfg['in_flight'];
    };

    return [
        'n' => $n,
        'wall_s' => $wall,
        'orders_per_s' => $n / $wall,
        'requests' => $requests,
        'floor_s' => $floor($requests),
        'ratio_to_floor' => $wall / $floor($requests),
        'send_wall_s' => $send['wall_s'],
        'send_requests' => $send['requests'],
        'send_floor_s' => $floor($send['requests']),
        'send_ratio_to_floor' => $send['wall_s'] / $floor($send['requests']),
        'check_wall_s' => $check['wall_s'],
        'check_requests' => $check['requests'],
        'max_rss_kib' => max($send['max_rss_kib'], $check['max_rss_kib']),
        'peak_php_bytes' => max($send['peak_php_bytes'], $check['peak_php_bytes']),
        'settled' => $counts['done'] + $counts['failed'],
        'counts' => $counts,
        'runs' => ['send' => $send, 'check' => $check],
    ];
}

say("drain of {$cfg['drain_n']} updates: extension (cron runner, MAX_ORDERS {$cfg['batch']})");
$drainDb = "$work/ext.sqlite";
if ($cfg['drain_n'] !== $cfg['save_n']) {
    $drainDb = "$work/drain-{$cfg['drain_n']}.sqlite";
    run_json(array_merge([$php], $extArgs, ["$root/bench/save.php", '--impl=ext', "--n={$cfg['drain_n']}", "--db=$drainDb"]));
}
$R['drain_ext'] = drain_ext($drainDb, $cfg['drain_n']);

say("drain of {$cfg['drain_n']} updates: PDO + curl_multi baseline");
$pdoDb = "$work/pdo.sqlite";
if ($cfg['drain_n'] !== $cfg['save_n']) {
    $pdoDb = "$work/pdo-drain.sqlite";
    run_json([$php, "$root/bench/save.php", '--impl=pdo', "--n={$cfg['drain_n']}", "--db=$pdoDb"]);
}
sandbox('POST', '/_sandbox/reset');
$bs = run_json([$php, "$root/bench/baseline/drain.php", "--db=$pdoDb", "--api-url=$sandboxUrl", '--phase=send', "--batch={$cfg['batch']}"]);
$bc = run_json([$php, "$root/bench/baseline/drain.php", "--db=$pdoDb", "--api-url=$sandboxUrl", '--phase=check', "--batch={$cfg['batch']}"]);
$bcounts = queue_counts($pdoDb);
$breq = $bs['requests'] + $bc['requests'];
$bwall = $bs['process_wall_s'] + $bc['process_wall_s'];
$R['drain_pdo'] = [
    'n' => $cfg['drain_n'],
    'wall_s' => $bwall,
    'orders_per_s' => $cfg['drain_n'] / $bwall,
    'requests' => $breq,
    'floor_s' => $breq * $cfg['latency_ms'] / 1000 / $cfg['in_flight'],
    'ratio_to_floor' => $bwall / ($breq * $cfg['latency_ms'] / 1000 / $cfg['in_flight']),
    'send_wall_s' => $bs['process_wall_s'],
    'send_requests' => $bs['requests'],
    'send_floor_s' => $bs['requests'] * $cfg['latency_ms'] / 1000 / $cfg['in_flight'],
    'send_ratio_to_floor' => $bs['process_wall_s'] / ($bs['requests'] * $cfg['latency_ms'] / 1000 / $cfg['in_flight']),
    'check_wall_s' => $bc['process_wall_s'],
    'check_requests' => $bc['requests'],
    'max_rss_kib' => max($bs['max_rss_kib'], $bc['max_rss_kib']),
    'peak_php_bytes' => max($bs['peak_php_bytes'], $bc['peak_php_bytes']),
    'settled' => $bcounts['done'] + $bcounts['failed'],
    'counts' => $bcounts,
];

say("send only, nothing persisted: SDK-like curl_multi baseline ({$cfg['drain_n']} orders)");
sandbox('POST', '/_sandbox/reset');
$so = run_json([$php, "$root/bench/baseline/send_only.php", "--n={$cfg['drain_n']}", "--api-url=$sandboxUrl"]);
$so['floor_s'] = $so['requests'] * $cfg['latency_ms'] / 1000 / $cfg['in_flight'];
$so['ratio_to_floor'] = $so['process_wall_s'] / $so['floor_s'];
$R['send_only_sdk'] = $so;

// Where the send run's time goes: the chain's steps timed one by one.
$stepsN = min($cfg['drain_n'], 40000);
say("send chain step by step: $stepsN updates");
$stepsDb = "$work/steps.sqlite";
run_json(array_merge([$php], $extArgs, ["$root/bench/save.php", '--impl=ext', "--n=$stepsN", "--db=$stepsDb"]));
sandbox('POST', '/_sandbox/reset');
$R['drain_steps'] = run_json(array_merge([$php], $extArgs, ["$root/bench/drain_steps.php", "--db=$stepsDb", "--api-url=$sandboxUrl",
    "--latency-ms={$cfg['latency_ms']}", "--batch={$cfg['batch']}"]));

// 3. Scaling: the drain at every size (the main drain is reused for its size).
$R['scaling'] = [];
foreach ($cfg['scales'] as $n) {
    if ($n === $cfg['drain_n']) {
        $R['scaling'][$n] = $R['drain_ext'];
        continue;
    }
    say("scaling: drain of $n updates");
    $db = "$work/scale-$n.sqlite";
    run_json(array_merge([$php], $extArgs, ["$root/bench/save.php", '--impl=ext', "--n=$n", "--db=$db"]));
    $R['scaling'][$n] = drain_ext($db, $n);
}

// 4. Real-time saveOrder: the sandbox at its latency, then hanging.
say("real-time saveOrder x {$cfg['rt_n']} ({$cfg['latency_ms']} ms latency)");
sandbox('POST', '/_sandbox/reset');
$R['realtime'] = run_json(array_merge([$php], $extArgs, ["$root/bench/realtime.php", "--n={$cfg['rt_n']}", "--db=$work/rt.sqlite", "--api-url=$sandboxUrl"]));
say("real-time saveOrder x {$cfg['hang_n']}, sandbox hanging, timeout_ms {$cfg['hang_timeout_ms']} and the default 3000");
sandbox('POST', '/_sandbox/config', ['hang' => true]);
$R['realtime_hang'] = run_json(array_merge([$php], $extArgs, ["$root/bench/realtime.php", "--n={$cfg['hang_n']}", '--first=1000001', "--db=$work/rt.sqlite", "--api-url=$sandboxUrl", "--timeout-ms={$cfg['hang_timeout_ms']}"]));
$R['realtime_hang_default'] = run_json(array_merge([$php], $extArgs, ["$root/bench/realtime.php", "--n={$cfg['hang_n']}", '--first=2000001', "--db=$work/rt.sqlite", "--api-url=$sandboxUrl"]));
sandbox('POST', '/_sandbox/config', ['hang' => false]);

// 5. Under the API's rate limit: the sandbox's token bucket (10 requests
// per 2 s, X-RateLimit-Limit / -Remaining, 429 with X-RateLimit-Wait
// beyond it). The send run of the cron over rl_n updates: how much of the
// allowed rate it used, how many requests met a 429, and none lost.
$rlN = (int) $env('BENCH_RL_N', $small ? 2000 : 10000);
say("rate limit: send run of $rlN updates under 10 requests per 2 s");
$rlDb = "$work/ratelimit.sqlite";
run_json(array_merge([$php], $extArgs, ["$root/bench/save.php", '--impl=ext', "--n=$rlN", "--db=$rlDb"]));
sandbox('POST', '/_sandbox/reset');
sandbox('POST', '/_sandbox/config', ['rate_limit' => ['requests' => 10, 'per_ms' => 2000]]);
$rlStats0 = sandbox('GET', '/_sandbox/stats?ticketed=0');
$rl = cron_run($rlDb);
$rlStats = sandbox('GET', '/_sandbox/stats?ticketed=0');
sandbox('POST', '/_sandbox/config', ['rate_limit' => null]);
$rlCounts = queue_counts($rlDb);
$rlRequests = $rl['requests'];
$rlLimited = ($rlStats['rate_limited'] ?? 0) - ($rlStats0['rate_limited'] ?? 0);
// The bucket starts full (10), then allows 5 a second.
$rlAllowed = 10 + 5 * $rl['wall_s'];
$R['rate_limit'] = [
    'n' => $rlN,
    'wall_s' => $rl['wall_s'],
    'requests' => $rlRequests,
    'rate_limited' => $rlLimited,
    'limited_share' => $rlRequests > 0 ? $rlLimited / $rlRequests : 0,
    'allowed_requests' => $rlAllowed,
    'utilization' => min(1.0, ($rlRequests - $rlLimited) / $rlAllowed),
    'counts' => $rlCounts,
    'lost' => $rlN - $rlCounts['sent'] - $rlCounts['done'] - $rlCounts['failed'] - $rlCounts['pending'],
    'left_pending' => $rlCounts['pending'],
];

// 6. Invoices (issue 12): saveOrder of a 200 KB PDF (the merchant's
// request), then the upload of all of them through the cron runner (its
// send run, multipart upload-documents, 20 files a request, then its check
// run): bytes per second and the ratio to the network floor.
$invN = (int) $env('BENCH_INVOICE_N', $small ? 200 : 1000);
$invKb = (int) $env('BENCH_INVOICE_KB', 200);
say("invoices: saveOrder x $invN of a $invKb KB PDF, then their upload");
$invDb = "$work/invoices.sqlite";
$R['invoice_save'] = run_json(array_merge([$php], $extArgs, ["$root/bench/invoices.php", "--n=$invN", "--kb=$invKb", "--db=$invDb"]));
sandbox('POST', '/_sandbox/reset');
$invSend = cron_run($invDb);
$invCheck = cron_run($invDb);
$invCounts = queue_counts($invDb);
$invFloor = static function (int $requests) use ($cfg) {
    return $requests * $cfg['latency_ms'] / 1000 / $cfg['in_flight'];
};
$R['invoice_drain'] = [
    'n' => $invN,
    'bytes' => $invN * $invKb * 1024,
    'wall_s' => $invSend['wall_s'] + $invCheck['wall_s'],
    'send_wall_s' => $invSend['wall_s'],
    'send_requests' => $invSend['order_requests'],
    'send_floor_s' => $invFloor($invSend['requests']),
    'send_ratio_to_floor' => $invSend['wall_s'] / max(1e-9, $invFloor($invSend['requests'])),
    'bytes_per_s' => $invN * $invKb * 1024 / max(1e-9, $invSend['wall_s']),
    'check_wall_s' => $invCheck['wall_s'],
    'check_requests' => $invCheck['requests'],
    'max_rss_kib' => max($invSend['max_rss_kib'], $invCheck['max_rss_kib']),
    'peak_php_bytes' => max($invSend['peak_php_bytes'], $invCheck['peak_php_bytes']),
    'counts' => $invCounts,
    'lost' => $invN - $invCounts['done'] - $invCounts['failed'],
];

// 7. Real-time through PHP-FPM (issue 13): the merchant's wait in both
// modes, beside the same save in batch mode, and the delivery delay (the
// API accepting the order after saveOrder returned); then the API hanging.
$fpmN = (int) $env('BENCH_FPM_N', $small ? 400 : 2000);
$fpmRun = static function (string $mode, int $n, int $first, array $extra = [], bool $hang = false) use ($php, $root, $ext, $work, $sandboxUrl) {
    sandbox('POST', '/_sandbox/reset');
    if ($hang) {
        sandbox('POST', '/_sandbox/config', ['hang' => true]);
    }
    $db = "$work/fpm-$mode-$first.sqlite";

    return run_json(array_merge([$php, "$root/bench/fpm_realtime.php", "--ext=$ext", "--db=$db", "--api-url=$sandboxUrl",
        "--mode=$mode", "--n=$n", "--first=$first"], $extra));
};
if (is_executable('/usr/sbin/php-fpm8.2')) {
    // Paced (open loop, 200 requests a second: a very busy shop, the machine
    // not saturated) is where the merchant's wait is judged; saturated
    // (closed loop, 8 at a time, 4 workers on 2 cores) shows what CPU
    // contention adds, batch mode included.
    say("real-time through PHP-FPM: $fpmN requests each in batch, inline and background mode at 200 a second ({$cfg['latency_ms']} ms latency)");
    $R['fpm']['batch'] = $fpmRun('batch', $fpmN, 1, ['--no-delivery', '--rate=200']);
    $R['fpm']['inline'] = $fpmRun('inline', $fpmN, 1, ['--rate=200']);
    $R['fpm']['background'] = $fpmRun('background', $fpmN, 1, ['--rate=200']);
    $R['fpm']['background_400'] = $fpmRun('background', $fpmN, 1100001, ['--rate=400']);
    say('real-time through PHP-FPM, saturated (8 requests at a time, no pacing): batch and background');
    $R['fpm']['batch_sat'] = $fpmRun('batch', $fpmN, 1200001, ['--no-delivery', '--rate=0']);
    $R['fpm']['background_sat'] = $fpmRun('background', $fpmN, 1300001, ['--rate=0']);
    say('real-time through PHP-FPM, the API hanging: inline (timeout_ms 3000) and background');
    $R['fpm']['inline_hang'] = $fpmRun('inline', 16, 3000001, ['--no-delivery', '--rate=200'], true);
    $R['fpm']['background_hang'] = $fpmRun('background', $fpmN, 3100001, ['--no-delivery', '--rate=200'], true);
    sandbox('POST', '/_sandbox/config', ['hang' => false]);
}

// 8. The MySQL/MariaDB store (issue 9): the same saves and drain on the
// private MariaDB that scripts/bench.sh starts (BENCH_MYSQL_URL), beside a
// plain PDO MySQL upsert of the same row into the same schema.
$mysqlUrl = (string) $env('BENCH_MYSQL_URL', '');
if ($mysqlUrl !== '') {
    $mysqlDb = static function (string $name) use ($mysqlUrl) {
        return $mysqlUrl . (strpos($mysqlUrl, '?') === false ? '?' : '&') . 'prefix=bench_' . $name . '_' . getmypid() . '_';
    };
    $mn = (int) $env('BENCH_MYSQL_SAVE_N', $small ? 3000 : 20000);
    say("MySQL store: saveOrder x $mn, extension then PDO MySQL");
    $R['mysql']['save_ext'] = run_json(array_merge([$php], $extArgs, ["$root/bench/save.php", '--impl=ext', "--n=$mn", '--db=' . $mysqlDb('save_ext')]));
    $R['mysql']['save_pdo'] = run_json([$php, "$root/bench/save.php", '--impl=pdo-mysql', "--n=$mn", '--db=' . $mysqlDb('save_pdo')]);
    say("MySQL store: drain of {$cfg['drain_n']} updates (cron runner)");
    $drainMysql = $mysqlDb('drain');
    // The rows to drain: the SQLite drain's own updates, copied by the
    // extension's move (importFrom), so both stores drain the same queue.
    $copy = "$work/drain-copy.sqlite";
    run_json(array_merge([$php], $extArgs, ["$root/bench/save.php", '--impl=ext', "--n={$cfg['drain_n']}", "--db=$copy"]));
    [$code, $o2, $e2] = run_cmd(array_merge([$php], $extArgs, ['-r', 'ini_set("shoppingfeed_sync.database", $argv[1]); echo json_encode(ShoppingfeedOrderSyncQueue::importFrom($argv[2]));', $drainMysql, $copy]));
    if ($code !== 0) {
        fwrite(STDERR, "bench: moving the drain's rows into MySQL failed\n$o2\n$e2\n");
        exit(1);
    }
    $R['mysql']['drain_ext'] = drain_ext($drainMysql, $cfg['drain_n']);
}

// 9. Instructions (callgrind, bench/profile.sh): stable whatever the load.
if ($env('BENCH_PROFILE', '1') !== '0' && is_executable('/usr/bin/valgrind')) {
    say('instructions per saveOrder and per drained row (callgrind, bench/profile.sh)');
    [$code, $pout, $perr] = run_cmd(['bash', "$root/bench/profile.sh"], ['EXT' => $ext]);
    if ($code !== 0) {
        fwrite(STDERR, "bench: bench/profile.sh failed\n$pout\n$perr\n");
        exit(1);
    }
    $R['profile'] = [];
    foreach (explode("\n", $pout) as $line) {
        if (preg_match('/^(.+?): (\d+) instructions per (call|row)$/', trim($line), $pm)) {
            $R['profile'][$pm[1]] = (int) $pm[2];
        }
    }
}

$R['elapsed_s'] = microtime(true) - $t0;
file_put_contents("$work/results.json", json_encode($R, JSON_PRETTY_PRINT));
require __DIR__ . '/report.php';
$report = bench_report($R, $startedAt);
echo $report['table'];
if ($out !== '-') {
    file_put_contents($out, $report['markdown']);
    say("wrote $out");
}
if (!getenv('BENCH_KEEP')) {
    proc_terminate($sandboxProc);
    proc_close($sandboxProc);
    bench_rmdir($work);
}
