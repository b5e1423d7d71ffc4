<?php
/**
 * Real-time saveOrder through PHP-FPM, both modes (issue 13): a static pool
 * of 4 workers (Debian's php-fpm8.2, the extension loaded by the master)
 * driven by a FastCGI client in this process (bench/fcgi.php: no process
 * per request), $parallel requests at a time, each saving one update
 * (bench/fpm/save.php). Measures the merchant's wait (saveOrder's duration
 * inside the request) and the delivery delay (from saveOrder returning to
 * the API accepting the order: the sandbox's log, same clock), and the API
 * requests per order.
 *
 *   php bench/fpm_realtime.php --ext=SO --db=Q.sqlite --api-url=URL --mode=inline|background --n=400 [--rate=200] [--parallel=8] [--first=1] [--timeout-ms=3000] [--no-delivery]
 */
require_once __DIR__ . '/lib.php';
require_once __DIR__ . '/fcgi.php';

$o = bench_opts($argv);
$ext = (string) $o['ext'];
$db = (string) $o['db'];
$api = (string) $o['api-url'];
$mode = (string) ($o['mode'] ?? 'inline');
$n = (int) ($o['n'] ?? 400);
$first = (int) ($o['first'] ?? 1);
$parallel = (int) ($o['parallel'] ?? 8);
$rate = (int) ($o['rate'] ?? 200);
$fpmBin = '/usr/sbin/php-fpm8.2';
foreach ([$fpmBin] as $bin) {
    if (!is_executable($bin)) {
        fwrite(STDERR, "bench: $bin is missing (scripts/setup.sh installs php8.2-fpm)\n");
        exit(1);
    }
}
$dir = sys_get_temp_dir() . '/sfsync-bench-fpm-' . getmypid();
@mkdir($dir, 0700, true);
$sock = stream_socket_server('tcp://127.0.0.1:0');
$port = (int) substr(strrchr(stream_socket_get_name($sock, false), ':'), 1);
fclose($sock);
$timeout = (int) ($o['timeout-ms'] ?? 3000);
file_put_contents("$dir/fpm.conf", <<<INI
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no
[bench]
listen = 127.0.0.1:$port
pm = static
pm.max_children = 4
clear_env = no
php_admin_value[shoppingfeed_sync.database] = "$db"
php_admin_value[shoppingfeed_sync.api_url] = $api
php_value[shoppingfeed_sync.timeout_ms] = $timeout
INI);
$cmd = [$fpmBin, '-F', '-n', '-d', "extension=$ext", '-y', "$dir/fpm.conf"];
if (function_exists('posix_getuid') && posix_getuid() === 0) {
    $cmd[] = '-R';
}
$fpm = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', "$dir/fpm.out", 'w'], 2 => ['file', "$dir/fpm.err", 'w']], $pipes);
for ($i = 0; $i < 200; $i++) {
    $c = @fsockopen('127.0.0.1', $port, $errno, $errstr, 0.1);
    if ($c) {
        fclose($c);
        break;
    }
    usleep(50000);
}
usleep(300000); // the workers

$page = __DIR__ . '/fpm/save.php';
$client = new BenchFcgi('127.0.0.1', $port);
$answers = [];
$ids = range($first, $first + $n - 1);
// Open loop: a request starts every 1/$rate s (as a shop's visitors arrive,
// whatever the answers), at most $parallel at a time.
$interval = $rate > 0 ? (int) (1e9 / $rate) : 0;
$next = hrtime(true);
while ($ids || $client->inFlight()) {
    while ($ids && $client->inFlight() < $parallel && hrtime(true) >= $next) {
        $id = array_shift($ids);
        $client->start($page, "id=$id&mode=$mode", $id);
        $next += $interval;
    }
    $wait = $ids ? max(0, min(2000, (int) (($next - hrtime(true)) / 1000))) : 2000;
    foreach ($client->pump($wait) as $r) {
        $raw = $r->stdout;
        $body = ($pos = strpos($raw, "\r\n\r\n")) !== false ? substr($raw, $pos + 4) : $raw;
        $a = json_decode($body, true);
        if (!is_array($a) || empty($a['ok'])) {
            fwrite(STDERR, "bench: request {$r->tag} failed: $raw\n");
            exit(1);
        }
        $answers[$a['id']] = $a;
    }
}

// Delivery: when the API accepted each order (its POST's arrival + duration).
$accepted = [];
$deliveryWait = 0.0;
if (!isset($o['no-delivery'])) {
    $until = microtime(true) + 30;
    do {
        usleep(100000);
        $log = json_decode((string) file_get_contents("$api/_sandbox/log"), true);
        $accepted = [];
        $posts = 0;
        foreach ($log['requests'] ?? [] as $e) {
            if (($e['method'] ?? '') !== 'POST' || ($e['status'] ?? 0) !== 202 || strpos((string) $e['path'], '/order/') === false) {
                continue;
            }
            $posts++;
            $body = is_string($e['body']) ? json_decode($e['body'], true) : $e['body'];
            foreach ($body['order'] ?? [] as $el) {
                $key = isset($el['id']) ? (int) $el['id'] - 5000000 : (int) substr((string) $el['reference'], 6);
                $accepted[$key] = ($e['at_ms'] + $e['duration_ms']) / 1000;
            }
        }
        $mine = array_intersect_key($accepted, $answers);
    } while (count($mine) < $n && microtime(true) < $until);
}
proc_terminate($fpm, 15);
proc_close($fpm);
array_map('unlink', glob("$dir/*") ?: []);
@rmdir($dir);

$waits = array_map(static function ($a) {
    return (int) round($a['wait_us'] * 1000);
}, array_values($answers));
$out = ['bench' => 'fpm_realtime', 'mode' => $mode, 'n' => $n, 'timeout_ms' => $timeout, 'wait' => bench_stats($waits),
    'sent_in_request' => array_sum(array_column($answers, 'sent'))];
if (!isset($o['no-delivery'])) {
    $delays = [];
    foreach ($answers as $id => $a) {
        if (isset($accepted[$id])) {
            $delays[] = (int) round(max(0, $accepted[$id] - $a['returned_at']) * 1e9);
        }
    }
    $out['delivered'] = count($delays);
    $out['delivery'] = $delays ? bench_stats($delays) : null;
    $out['api_requests'] = $posts ?? 0;
    $out['requests_per_order'] = $n > 0 ? ($posts ?? 0) / $n : 0;
}
bench_result($out);
