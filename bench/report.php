<?php
/**
 * Renders the results of bench/run.php: a plain-text table for the terminal
 * and docs/BENCHMARKS.md (machine, date, command, every figure, the ratios
 * to the baselines, each target met or missed). The analysis that does not
 * come out of one run (profiles, reasons) is in bench/NOTES.md and is
 * appended as it is.
 */

function bench_machine(): array
{
    $cpu = 'unknown';
    foreach (@file('/proc/cpuinfo') ?: [] as $line) {
        if (preg_match('/^model name\s*:\s*(.+)$/', $line, $m)) {
            $cpu = trim($m[1]);
            break;
        }
    }
    $sqlite = 'unknown';
    try {
        $sqlite = (new PDO('sqlite::memory:'))->query('select sqlite_version()')->fetchColumn();
    } catch (Throwable $e) {
    }
    $bundled = 'bundled';
    $info = (string) @shell_exec(escapeshellarg(PHP_BINARY) . ' -d extension=' . escapeshellarg((string) ($GLOBALS['ext'] ?? '')) . ' --ri shoppingfeed_sync 2>/dev/null');
    if (preg_match('/SQLite ([0-9.]+)/', $info, $mm)) {
        $bundled = $mm[1] . ' (bundled)';
    }
    $git = trim((string) @shell_exec('git -C ' . escapeshellarg(dirname(__DIR__)) . ' rev-parse --short HEAD 2>/dev/null'));
    $dirty = trim((string) @shell_exec('git -C ' . escapeshellarg(dirname(__DIR__)) . ' status --porcelain --untracked-files=no 2>/dev/null')) !== '';

    return [
        'nproc' => trim((string) @shell_exec('nproc')),
        'cpu' => $cpu,
        'memory' => trim((string) @shell_exec('free -h')),
        'kernel' => php_uname('s') . ' ' . php_uname('r'),
        'php' => PHP_VERSION . (PHP_ZTS ? ' ZTS' : ' NTS'),
        'pdo_sqlite' => $sqlite,
        'ext_sqlite' => $bundled,
        'load' => sys_getloadavg(),
        'git' => ($git ?: 'unknown') . ($dirty ? ' + uncommitted changes' : ''),
    ];
}

function f1($v): string
{
    return $v === null ? 'n/a' : number_format((float) $v, 1);
}

function f2($v): string
{
    return $v === null ? 'n/a' : number_format((float) $v, 2);
}

function f0($v): string
{
    return $v === null ? 'n/a' : number_format((float) $v, 0);
}

function ratio($ours, $theirs): string
{
    if (!$ours || !$theirs) {
        return 'n/a';
    }

    return number_format($ours / $theirs, 2) . '×';
}

function mib($kib): string
{
    return $kib === null ? 'n/a' : number_format($kib / 1024, 1) . ' MiB';
}

function md_table(array $head, array $rows): string
{
    $out = '| ' . implode(' | ', $head) . " |\n|" . str_repeat('---|', count($head)) . "\n";
    foreach ($rows as $r) {
        $out .= '| ' . implode(' | ', $r) . " |\n";
    }

    return $out;
}

function text_table(array $head, array $rows): string
{
    $w = [];
    foreach (array_merge([$head], $rows) as $r) {
        foreach ($r as $i => $c) {
            $w[$i] = max($w[$i] ?? 0, mb_strlen((string) $c));
        }
    }
    $line = static function (array $r) use ($w) {
        $cells = [];
        foreach ($r as $i => $c) {
            $cells[] = str_pad((string) $c, $w[$i] + (strlen((string) $c) - mb_strlen((string) $c)));
        }

        return '  ' . implode('  ', $cells) . "\n";
    };
    $out = $line($head);
    $out .= '  ' . implode('  ', array_map(static fn ($n) => str_repeat('-', $n), $w)) . "\n";
    foreach ($rows as $r) {
        $out .= $line($r);
    }

    return $out;
}

function bench_report(array $R, string $startedAt): array
{
    $cfg = $R['config'];
    $m = bench_machine();
    $se = $R['save_ext'];
    $sp = $R['save_pdo'];
    $sef = $R['save_ext_full'];
    $spf = $R['save_pdo_full'];
    $de = $R['drain_ext'];
    $dp = $R['drain_pdo'];
    $so = $R['send_only_sdk'];
    $rt = $R['realtime'];
    $rh = $R['realtime_hang'];
    $rhd = $R['realtime_hang_default'];
    $lat = $cfg['latency_ms'];
    $command = 'scripts/bench.sh' . ($R['scale'] !== 'default' ? ' (BENCH_SCALE=' . $R['scale'] . ')' : '');

    // saveOrder
    $saveHead = ['saveOrder, batch mode', 'calls', 'median µs', 'p99 µs', 'p99.9 µs', 'max µs', 'mean µs', 'calls/s', '> 1 ms', '> 10 ms'];
    $saveRow = static function (string $name, array $s) {
        return [$name, f0($s['calls']), f1($s['median_us']), f1($s['p99_us']), f1($s['p999_us']), f1($s['max_us']), f1($s['mean_us']), f0($s['calls_per_s']), f0($s['over_1ms']), f0($s['over_10ms'])];
    };
    $sm = $R['save_min'] ?? null;
    $saveRows = [
        $saveRow('extension (synchronous=NORMAL)', $se),
        $saveRow('PDO baseline (synchronous=NORMAL)', $sp),
        ['ratio extension / PDO', '', ratio($se['median_us'], $sp['median_us']), ratio($se['p99_us'], $sp['p99_us']), ratio($se['p999_us'], $sp['p999_us']), ratio($se['max_us'], $sp['max_us']), ratio($se['mean_us'], $sp['mean_us']), ratio($se['calls_per_s'], $sp['calls_per_s']), '', ''],
        $saveRow('extension (synchronous=FULL)', $sef),
        $saveRow('PDO baseline (synchronous=FULL)', $spf),
        ['ratio extension / PDO (FULL)', '', ratio($sef['median_us'], $spf['median_us']), ratio($sef['p99_us'], $spf['p99_us']), ratio($sef['p999_us'], $spf['p999_us']), ratio($sef['max_us'], $spf['max_us']), ratio($sef['mean_us'], $spf['mean_us']), ratio($sef['calls_per_s'], $spf['calls_per_s']), '', ''],
    ];
    if ($sm) {
        $saveRows[] = $saveRow('minimal PDO upsert (issue 11\'s floor)', $sm);
        $saveRows[] = ['ratio extension / minimal upsert', '', ratio($se['median_us'], $sm['median_us']), ratio($se['p99_us'], $sm['p99_us']), ratio($se['p999_us'], $sm['p999_us']), ratio($se['max_us'], $sm['max_us']), ratio($se['mean_us'], $sm['mean_us']), ratio($se['calls_per_s'], $sm['calls_per_s']), '', ''];
    }

    // Drain
    $drainHead = ['drain of ' . f0($de['n']) . ' updates', 'wall s', 'orders/s', 'requests', 'floor s', '× floor', 'send s', 'send req.', 'send × floor', 'tickets s', 'max RSS', 'PHP peak'];
    $drainRow = static function (string $name, array $d) {
        return [$name, f2($d['wall_s']), f0($d['orders_per_s']), f0($d['requests']), f2($d['floor_s']), f2($d['ratio_to_floor']),
            f2($d['send_wall_s']), f0($d['send_requests']), f2($d['send_ratio_to_floor']), f2($d['check_wall_s']),
            mib($d['max_rss_kib']), mib(($d['peak_php_bytes'] ?? 0) / 1024)];
    };
    $drainRows = [
        $drainRow('extension (cron runner)', $de),
        $drainRow('PDO + curl_multi baseline', $dp),
        ['ratio extension / baseline', ratio($de['wall_s'], $dp['wall_s']), ratio($de['orders_per_s'], $dp['orders_per_s']), '', '', '', ratio($de['send_wall_s'], $dp['send_wall_s']), '', '', ratio($de['check_wall_s'], $dp['check_wall_s']), ratio($de['max_rss_kib'], $dp['max_rss_kib']), ''],
        ['SDK-like send only (no queue, no tickets)', '', f0($so['n'] / $so['process_wall_s']), f0($so['requests']), f2($so['floor_s']), '', f2($so['process_wall_s']), f0($so['requests']), f2($so['ratio_to_floor']), '', mib($so['max_rss_kib']), mib($so['peak_php_bytes'] / 1024)],
        ['ratio extension send / SDK-like send', '', '', '', '', '', ratio($de['send_wall_s'], $so['process_wall_s']), '', ratio($de['send_ratio_to_floor'], $so['ratio_to_floor']), '', '', ''],
    ];

    // Real time
    $rtHead = ['real-time saveOrder', 'calls', 'timeout_ms', 'median ms', 'p99 ms', 'max ms', 'mean ms', 'sent at once', 'left for the cron'];
    $rtRow = static function (string $name, array $r) {
        return [$name, f0($r['calls']), f0($r['timeout_ms']), f2($r['median_us'] / 1000), f2($r['p99_us'] / 1000), f2($r['max_us'] / 1000), f2($r['mean_us'] / 1000), f0($r['sent_at_once']), f0($r['left_for_cron'])];
    };
    $rtRows = [
        $rtRow("sandbox answering in $lat ms", $rt),
        $rtRow('sandbox hanging', $rh),
        $rtRow('sandbox hanging, default timeout', $rhd),
    ];

    // Scaling
    $scHead = ['updates', 'drain wall s', 'orders/s', 'requests', '× floor', 'send × floor', 'max RSS', 'PHP peak'];
    $scRows = [];
    foreach ($R['scaling'] as $n => $d) {
        $scRows[] = [f0($n), f2($d['wall_s']), f0($d['orders_per_s']), f0($d['requests']), f2($d['ratio_to_floor']), f2($d['send_ratio_to_floor']), mib($d['max_rss_kib']), mib(($d['peak_php_bytes'] ?? 0) / 1024)];
    }

    // Targets
    // Memory is bounded by the batch (MAX_ORDERS rows in PHP arrays and in
    // the claim cache), not by the queue: compare the sizes that fill at
    // least one batch (below that, a smaller batch is simply a smaller claim).
    $full = array_filter($R['scaling'], static fn ($d, $n) => $n >= $cfg['batch'], ARRAY_FILTER_USE_BOTH) ?: $R['scaling'];
    $rss = array_map(static fn ($d) => $d['max_rss_kib'], $R['scaling']);
    $rssFull = array_map(static fn ($d) => $d['max_rss_kib'], $full);
    $phpFull = array_map(static fn ($d) => $d['peak_php_bytes'], $full);
    $flat = max($rssFull) <= 1.15 * min($rssFull) && max($phpFull) <= 1.15 * max(1, min($phpFull));
    $perMinute = $de['orders_per_s'] * 60;
    $timeoutOk = $rh['max_us'] <= $rh['timeout_ms'] * 1000 && $rhd['max_us'] <= $rhd['timeout_ms'] * 1000
        && $rt['max_us'] <= $rt['timeout_ms'] * 1000;
    $targets = [
        ['saveOrder median ≤ 30 µs', f1($se['median_us']) . ' µs', $se['median_us'] <= 30],
        ['saveOrder p99.9 ≤ 1 ms', f1($se['p999_us']) . ' µs', $se['p999_us'] <= 1000],
        ['saveOrder mean below the PDO baseline\'s', f1($se['mean_us']) . ' vs ' . f1($sp['mean_us']) . ' µs', $se['mean_us'] < $sp['mean_us']],
        ['drain of ' . f0($de['n']) . ' ≤ 1.5 × network floor', f2($de['ratio_to_floor']) . '×', $de['ratio_to_floor'] <= 1.5],
        ['send phase ≤ 1.2 × network floor', f2($de['send_ratio_to_floor']) . '× (SDK-like: ' . f2($so['ratio_to_floor']) . '×)', $de['send_ratio_to_floor'] <= 1.2],
        ['one cron run settles ≥ 60,000 updates a minute', f0($perMinute) . ' a minute', $perMinute >= 60000],
        ['real-time saveOrder never waits longer than timeout_ms', 'max ' . f1($rh['max_us'] / 1000) . ' ms at ' . $rh['timeout_ms'] . ' ms, ' . f1($rhd['max_us'] / 1000) . ' ms at ' . $rhd['timeout_ms'] . ' ms', $timeoutOk],
        ['memory flat as the queue grows', implode(' / ', array_map('mib', $rss)) . ' max RSS at ' . implode(' / ', array_map('f0', array_keys($R['scaling']))) . ' updates', $flat],
    ];
    // Issue 11's own targets.
    $prof = $R['profile'] ?? [];
    if (isset($prof['saveOrder (ext)'])) {
        $targets[] = ['saveOrder ≤ 40,000 instructions per call (callgrind)', f0($prof['saveOrder (ext)']) . ' (minimal PDO upsert: '
            . (isset($prof['saveOrder (pdo-minimal)']) ? f0($prof['saveOrder (pdo-minimal)']) : '-') . ', PDO baseline: '
            . (isset($prof['saveOrder (pdo)']) ? f0($prof['saveOrder (pdo)']) : '-') . ')', $prof['saveOrder (ext)'] <= 40000];
    }
    if ($sm) {
        $targets[] = ['saveOrder median and mean below the minimal PDO upsert\'s', f1($se['median_us']) . ' / ' . f1($se['mean_us']) . ' vs '
            . f1($sm['median_us']) . ' / ' . f1($sm['mean_us']) . ' µs', $se['median_us'] < $sm['median_us'] && $se['mean_us'] < $sm['mean_us']];
    }
    $targets[] = ['no saveOrder over 10 ms (' . f0($se['calls']) . ' calls, no cron), fewer than the PDO baseline', f0($se['over_10ms']) . ' vs ' . f0($sp['over_10ms']),
        $se['over_10ms'] === 0 || $se['over_10ms'] < $sp['over_10ms']];
    // The MySQL store (issue 9), when the run had a server.
    $my = $R['mysql'] ?? null;
    $myText = '';
    $myMd = '';
    if ($my) {
        $mse = $my['save_ext'];
        $msp = $my['save_pdo'];
        $mde = $my['drain_ext'];
        $mySaveRows = [
            $saveRow('extension, MySQL store', $mse),
            $saveRow('PDO MySQL upsert, same schema', $msp),
            ['ratio extension / PDO', '', ratio($mse['median_us'], $msp['median_us']), ratio($mse['p99_us'], $msp['p99_us']), ratio($mse['p999_us'], $msp['p999_us']), ratio($mse['max_us'], $msp['max_us']), ratio($mse['mean_us'], $msp['mean_us']), ratio($mse['calls_per_s'], $msp['calls_per_s']), '', ''],
        ];
        $myDrainRows = [
            $drainRow('extension, MySQL store', $mde),
            $drainRow('extension, SQLite store', $de),
            ['ratio MySQL / SQLite', ratio($mde['wall_s'], $de['wall_s']), ratio($mde['orders_per_s'], $de['orders_per_s']), '', '', '', ratio($mde['send_wall_s'], $de['send_wall_s']), '', '', ratio($mde['check_wall_s'], $de['check_wall_s']), '', ''],
        ];
        $targets[] = ['MySQL: saveOrder mean no worse than a PDO MySQL upsert', f1($mse['mean_us']) . ' vs ' . f1($msp['mean_us']) . ' µs', $mse['mean_us'] <= $msp['mean_us']];
        $targets[] = ['MySQL: drain within 1.3 × the SQLite drain', f2($mde['wall_s']) . ' vs ' . f2($de['wall_s']) . ' s (' . ratio($mde['wall_s'], $de['wall_s']) . ')', $mde['wall_s'] <= 1.3 * $de['wall_s']];
        $myText = text_table($saveHead, $mySaveRows) . "\n" . text_table($drainHead, $myDrainRows) . "\n";
        $myMd = "\n## The MySQL/MariaDB store\n\n"
            . 'The same workloads with `shoppingfeed_sync.database` a `mysql://` URL, on a private MariaDB started by `scripts/bench.sh` (`scripts/mariadb.sh`: '
            . '`innodb_flush_log_at_trx_commit=1`, so every commit waits for an fsync of the redo log, as in a durable production setup). '
            . f0($mse['calls']) . ' saves (`bench/save.php --impl=ext`), beside a plain PDO MySQL baseline (`bench/baseline/PdoMysqlOrderQueue.php`): '
            . 'the same checks, the same table and indexes (the DDL of `core/migrations/mysql/0001_queue.sql`), one autocommitted `INSERT ... ON DUPLICATE KEY UPDATE` per call, native prepared statements. '
            . 'The drain: the SQLite drain\'s ' . f0($mde['n']) . ' updates moved into the MySQL queue (`ShoppingfeedOrderSyncQueue::importFrom`), then the same two cron runs.' . "\n\n"
            . md_table($saveHead, $mySaveRows) . "\n" . md_table($drainHead, $myDrainRows)
            . "\nQueue after the MySQL drain: " . json_encode($mde['counts']) . ".\n";
    }
    $rlMd = '';
    $rlText = '';
    if (isset($R['rate_limit'])) {
        $rl = $R['rate_limit'];
        $rlHead = ['updates', 'wall s', 'requests', 'answered 429', 'allowed in that time', 'rate used', 'left pending', 'lost'];
        $rlRows = [[f0($rl['n']), f2($rl['wall_s']), f0($rl['requests']), f0($rl['rate_limited']) . ' (' . f1(100 * $rl['limited_share']) . ' %)',
            f1($rl['allowed_requests']), f1(100 * $rl['utilization']) . ' %', f0($rl['left_pending']), f0($rl['lost'])]];
        $targets[] = ['under 10 requests per 2 s: ≥ 95 % of the allowed rate, ≤ 1 % answered 429, 0 lost',
            f1(100 * $rl['utilization']) . ' %, ' . f1(100 * $rl['limited_share']) . ' %, ' . f0($rl['lost']) . ' lost',
            $rl['utilization'] >= 0.95 && $rl['limited_share'] <= 0.01 && $rl['lost'] === 0];
        $rlText = text_table($rlHead, $rlRows) . "\n";
        $rlMd = "\n## Under the API's rate limit\n\n"
            . 'The sandbox\'s rate-limit mode: a token bucket of 10 requests refilled at 10 per 2 s, every answer with `X-RateLimit-Limit: 10/2` and `X-RateLimit-Remaining`, '
            . 'a 429 with `X-RateLimit-Wait` beyond it. One send run of the cron runner over ' . f0($rl['n']) . ' queued updates (100 a request). '
            . '"Allowed in that time" = 10 + 5 × the run\'s wall time; "rate used" = the requests answered 202 ÷ that. '
            . 'The client mirrors the announced limit (`core/src/api/pace.rs`) and a 429 pauses every request of the token.' . "\n\n"
            . md_table($rlHead, $rlRows);
    }
    $invMd = '';
    $invText = '';
    if (isset($R['invoice_save'], $R['invoice_drain'])) {
        $is = $R['invoice_save'];
        $id = $R['invoice_drain'];
        $invHead = ['workload', 'figure'];
        $invRows = [
            ['saveOrder of a ' . f0($is['kb']) . ' KB PDF: median / p99 / max', f1($is['median_us']) . ' / ' . f1($is['p99_us']) . ' / ' . f1($is['max_us']) . ' µs'],
            ['saveOrder calls over 10 ms', f0($is['over_10ms']) . ' of ' . f0($is['calls'])],
            ['queue file after the saves', mib((int) ($is['queue_bytes'] / 1024)) . ' for ' . mib((int) ($is['bytes'] / 1024)) . ' of PDFs'],
            ['upload (send run): wall, requests', f2($id['send_wall_s']) . ' s, ' . f0($id['send_requests']) . ' upload-documents'],
            ['bytes sent per second', f1($id['bytes_per_s'] / 1048576) . ' MiB/s'],
            ['send run ÷ network floor', f1($id['send_ratio_to_floor']) . ' × (floor ' . f2($id['send_floor_s']) . ' s)'],
            ['check run: wall, requests', f2($id['check_wall_s']) . ' s, ' . f0($id['check_requests'])],
            ['cron max RSS / PHP peak', mib($id['max_rss_kib']) . ' / ' . mib((int) ($id['peak_php_bytes'] / 1024))],
            ['after both runs', json_encode($id['counts']) . ', ' . f0($id['lost']) . ' lost'],
        ];
        $invText = text_table($invHead, $invRows) . "
";
        $invMd = "
## Invoices (upload-documents)

"
            . f0($is['n']) . ' `saveOrder` calls of `ShoppingfeedOrderSyncInvoiceActions`, each with one ' . f0($is['kb']) . ' KB PDF (binary past its header), each timed: '
            . 'the bytes are base64-encoded into the queue in the merchant\'s request. Then the cron runner uploads them all '
            . '(multipart `upload-documents`, at most 20 files and 20 MB a request, 10 requests in flight) and a second run reads the tickets. '
            . 'The floor counts only the latency (' . $lat . ' ms a request ÷ 10 in flight); on loopback the time goes to moving the bytes '
            . '(base64 decode, the multipart body, the sandbox reading and hashing every file), so the ratio says little and the bytes per second more.' . "

"
            . md_table($invHead, $invRows);
    }
    $stepsMd = '';
    if (isset($R['drain_steps'])) {
        $st = $R['drain_steps'];
        $stepsMd = "\n## The send chain step by step\n\n"
            . '`bench/drain_steps.php`: the send chain run directly (`getBatch`, `prepareBatch`, `sendBatch`, as classlib\'s handler runs it, '
            . f0($st['batch']) . ' rows a chain) on ' . f0($st['rows']) . ' queued updates, each step timed. `getBatch` and `prepareBatch` run while no request flies: '
            . 'their time is the part of the send run that cannot overlap the network in this design.' . "\n\n"
            . md_table(['rows', 'chains', 'requests', 'floor s', 'getBatch s', 'prepareBatch s', 'sendBatch s', 'wall s', '× floor', 'sendBatch × floor', 'without the serial steps × floor', 'serial µs per row'],
                [[f0($st['rows']), f0($st['chains']), f0($st['requests']), f2($st['floor_s']), f2($st['get_batch_s']), f2($st['prepare_batch_s']), f2($st['send_batch_s']),
                    f2($st['wall_s']), f2($st['ratio']), f2($st['ratio_send_batch_only']), f2($st['ratio_without_serial']), f1($st['serial_us_per_row'])]]);
    }
    $profMd = '';
    if ($prof) {
        $rowsP = [];
        foreach ($prof as $label => $n) {
            $rowsP[] = [$label, f0($n)];
        }
        $profMd = "\n## Instructions (callgrind)\n\n"
            . '`bench/profile.sh`, run by this command: each figure is the difference between two runs of different sizes under callgrind, '
            . 'so PHP\'s start-up and the first call\'s open do not count; stable whatever the load of the machine.' . "\n\n"
            . md_table(['hot path', 'instructions'], $rowsP);
    }
    $fpmMd = '';
    $fpmText = '';
    if (isset($R['fpm']['background'])) {
        $F = $R['fpm'];
        $us = static fn ($v) => $v >= 10000 ? f1($v / 1000) . ' ms' : f0($v) . ' µs';
        $fpmHead = ['mode, API', 'requests', 'wait median', 'wait p99', 'wait max', 'delivery median', 'delivery p99', 'API requests per order'];
        $fpmRows = [];
        foreach ([['batch (no real time), 200/s', 'batch'], ['inline, 200/s', 'inline'], ['background, 200/s', 'background'],
            ['background, 400/s', 'background_400'],
            ['batch, saturated', 'batch_sat'], ['background, saturated', 'background_sat'],
            ['inline, API hanging, 200/s', 'inline_hang'], ['background, API hanging, 200/s', 'background_hang']] as [$label, $key]) {
            if (!isset($F[$key])) {
                continue;
            }
            $r = $F[$key];
            $d = $r['delivery'] ?? null;
            $fpmRows[] = [$label, f0($r['n']), $us($r['wait']['median_us']), $us($r['wait']['p99_us']), $us($r['wait']['max_us']),
                $d ? $us($d['median_us']) : '-', $d ? $us($d['p99_us']) : '-', isset($r['requests_per_order']) ? f2($r['requests_per_order']) : '-'];
        }
        $bg = $F['background'];
        $targets[] = ['background mode: the merchant\'s wait p99 ≤ 1 ms (SQLite), whatever the API does',
            $us($bg['wait']['p99_us']) . ' at 200 requests/s with the API at 20 ms, ' . (isset($F['background_hang']) ? $us($F['background_hang']['wait']['p99_us']) . ' hanging' : '-')
            . ' (batch-mode save in the same run: ' . $us($F['batch']['wait']['p99_us']) . (isset($F['background_sat']) ? '; saturated machine: ' . $us($F['background_sat']['wait']['p99_us']) . ' vs batch ' . $us($F['batch_sat']['wait']['p99_us']) : '') . ')',
            $bg['wait']['p99_us'] <= 1000 && (!isset($F['background_hang']) || $F['background_hang']['wait']['p99_us'] <= 1000)];
        $targets[] = ['background mode: delivery p99 ≤ 1 s with the API at 20 ms', $bg['delivery'] ? $us($bg['delivery']['p99_us']) : '-',
            $bg['delivery'] && $bg['delivery']['p99_us'] <= 1e6 && $bg['delivered'] === $bg['n']];
        $fpmText = text_table($fpmHead, $fpmRows) . "\n";
        $fpmMd = "\n## Real-time through PHP-FPM\n\n"
            . 'Debian\'s php-fpm8.2, a static pool of 4 workers (the extension loaded by the master), driven by a FastCGI client in the bench process (`bench/fcgi.php`; `cgi-fcgi`, one process per request, took the CPU from the workers and was measured instead of them), `bench/fpm_realtime.php`, page `bench/fpm/save.php`. '
            . 'Paced rows: one request every 5 ms (200 a second, 400 for one row), whatever the answers, at most 8 at a time: a very busy shop on a machine that is not saturated, where the merchant\'s wait is judged. '
            . 'Saturated rows: 8 requests at a time back to back, 4 workers on 2 cores: a worker is often descheduled in the middle of a save, batch mode as much as background, so these rows measure the scheduler as much as the extension. '
            . 'Each request '
            . 'saves one order update in real-time mode. "Wait" is `saveOrder`\'s duration inside the request (what the merchant waits); '
            . '"delivery" is from `saveOrder` returning to the API having accepted the order (the sandbox\'s log, same clock; 0 in inline mode, which sends before returning). '
            . 'Background mode: each worker\'s sender (`core/src/background/`) gathers the saves until the end of the current 100 ms slot of the wall clock, the same instant for every sender of the pool, then claims and sends the due rows of its shop together: the first claim of a slot takes the rows of every worker, the others find none. '
            . 'The batch row is the same save with real time off, in the same run: the floor of a save on this machine under this load (its p99 includes each worker\'s first save, which opens the queue).' . "\n\n"
            . md_table($fpmHead, $fpmRows);
    }
    $targetRows = array_map(static fn ($t) => [$t[0], $t[1], $t[2] ? 'met' : '**missed**'], $targets);

    $text = "\nshoppingfeed_sync benchmarks ($startedAt, " . $m['nproc'] . ' CPUs, ' . $m['cpu'] . ")\n\n"
        . text_table($saveHead, $saveRows) . "\n"
        . text_table($drainHead, $drainRows) . "\n"
        . text_table($rtHead, $rtRows) . "\n"
        . text_table($scHead, $scRows) . "\n"
        . $myText
        . $rlText
        . $invText
        . $fpmText
        . text_table(['target', 'figure', ''], array_map(static fn ($t) => [$t[0], $t[1], $t[2] ? 'met' : 'MISSED'], $targets))
        . "\nelapsed " . f1($R['elapsed_s']) . " s\n";

    $notes = (string) @file_get_contents(__DIR__ . '/NOTES.md');
    $load = implode(', ', array_map(static fn ($l) => number_format($l, 2), $m['load']));
    $elapsed = f1($R['elapsed_s']);
    $md = <<<MD
# Benchmarks

Generated by `$command` on $startedAt, in $elapsed s (see the
README's "Benchmarks" section; `BENCH_SCALE=small` for a quick run). Every
workload runs in this one command, the extension and its plain-PHP
baselines side by side, against the local Shopping Feed sandbox
(`sf-sandbox --latency-ms $lat`: every API request takes $lat ms).

## Machine

- `nproc`: {$m['nproc']}; CPU: {$m['cpu']}; kernel {$m['kernel']}
- PHP {$m['php']} (CLI); SQLite {$m['pdo_sqlite']} for PDO (Debian's), {$m['ext_sqlite']} in the extension
- load average at the end of the run: $load (the machine is shared: other builds ran at the same time, so wall-clock figures carry noise; instruction counts below do not)
- code: {$m['git']}

```
{$m['memory']}
```

## Targets

MD;
    $md .= "\n" . md_table(['target (2 cores)', 'measured', ''], $targetRows)
        . "\nWhy each target is met or missed, and what would get there: see \"Analysis\" below.\n"
        . "\n## saveOrder in batch mode\n\n"
        . f0($cfg['save_n']) . ' calls from PHP (`new ShoppingfeedOrderSyncStatusActions()`, `setConveyor()`, `saveOrder()`; each call timed with `hrtime`) into a new SQLite file; '
        . 'the mix of the drain below (ship, cancel, refund, deliver), settings read through PrestaShop\'s `Configuration::get` as in a merchant\'s request. '
        . 'The baseline (`bench/baseline/PdoOrderQueue.php`) is the same queue in plain PHP: PDO SQLite, the same table and indexes, WAL, prepared statements, '
        . 'one `BEGIN IMMEDIATE` transaction per call (update the pending row, else insert). The FULL rows: ' . f0($cfg['full_n']) . " calls with `synchronous=FULL` (`shoppingfeed_sync.synchronous=full` for the extension).\n\n"
        . md_table($saveHead, $saveRows)
        . "\n## Drain\n\n"
        . 'The ' . f0($de['n']) . ' updates queued above (a quarter of each operation), settled end to end by the real cron runner `php/tools/bin/sync-orders.php` '
        . '(the module\'s controller through classlib\'s ActionsHandler flow): a first run sends them (check chain: nothing yet; send chain `getBatch`, `prepareBatch`, `sendBatch` repeated), '
        . 'a second run reads their tickets and settles every row as done (`getBatch`, `checkTickets` repeated). Every state change is committed. '
        . '`SHOPPINGFEED_ORDER_STATUS_MAX_ORDERS` = ' . f0($cfg['batch']) . ' (the default 100 would give one request per chain: 10 requests in flight need at least 1,000; '
        . f0($cfg['batch']) . ' is 1,000 per operation, ten full requests each). Wall time is the two processes, start to exit. '
        . 'Network floor = requests × ' . $lat . ' ms ÷ ' . $cfg['in_flight'] . " in flight. Memory: the cron process's maximum RSS (PHP and the extension's Rust heap) and PHP's own peak.\n\n"
        . 'The baseline (`bench/baseline/drain.php`) is the same cron in plain PHP: PDO on the same table, claims of ' . f0($cfg['batch']) . ' rows with a lease, '
        . "`curl_multi` with 100 orders a request and 10 in flight, every state change committed after each answer, then the tickets read 10 batches at a time. "
        . "The SDK-like row (`bench/baseline/send_only.php`) sends the same orders from memory as the official PHP SDK does (Guzzle's curl_multi: 100 a request, 10 in flight), persisting nothing and reading no ticket.\n\n"
        . md_table($drainHead, $drainRows)
        . "\nQueue after the drain: extension " . json_encode($de['counts']) . ', baseline ' . json_encode($dp['counts']) . ".\n"
        . "\n## Real-time saveOrder\n\n"
        . "`SHOPPINGFEED_REAL_TIME_SYNCHRONIZATION` on: each `saveOrder` queues the update and sends it at once (one HTTP attempt); the time is what the merchant's request waits. "
        . "Then the sandbox stops answering (`hang`): the update stays queued for the cron and `saveOrder` still returns true, after `shoppingfeed_sync.timeout_ms`.\n\n"
        . md_table($rtHead, $rtRows)
        . "\n## Scaling\n\nThe drain (both cron runs) at each queue size, same settings.\n\n"
        . md_table($scHead, $scRows)
        . $myMd
        . $rlMd
        . $invMd
        . $stepsMd
        . $profMd
        . $fpmMd
        . "\n" . $notes;

    return ['table' => $text, 'markdown' => $md];
}
