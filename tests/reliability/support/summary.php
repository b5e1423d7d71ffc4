<?php
/**
 * Prints the figures recorded by a reliability run (one JSON object a line)
 * as a short table: area, scenario, numbers.
 *
 *   php tests/reliability/support/summary.php target/reliability/figures-quick-sqlite.jsonl
 */
$file = $argv[1] ?? '';
if (!is_file($file)) {
    fwrite(STDERR, "summary: no figures file $file\n");
    exit(0);
}
$lines = array_filter(array_map('trim', file($file)));
if (!$lines) {
    echo "(no figures recorded)\n";
    exit(0);
}
$first = json_decode((string) reset($lines), true);
echo "\n==> figures" . (isset($first['store']) ? " (queue store: {$first['store']})" : '') . "\n";
foreach ($lines as $line) {
    $f = json_decode($line, true);
    if (!is_array($f)) {
        continue;
    }
    $area = $f['area'] ?? '?';
    $what = $f['what'] ?? '?';
    unset($f['area'], $f['what'], $f['size'], $f['store']);
    $parts = [];
    foreach ($f as $k => $v) {
        if (is_array($v)) {
            $v = json_encode($v, JSON_UNESCAPED_SLASHES);
            if (strlen($v) > 120) {
                $v = substr($v, 0, 117) . '...';
            }
        } elseif (is_bool($v)) {
            $v = $v ? 'yes' : 'no';
        } elseif (is_float($v)) {
            $v = round($v, 3);
        }
        $parts[] = "$k=$v";
    }
    printf("%-12s %-48s %s\n", $area, $what, implode(' ', $parts));
}
