<?php
/**
 * auto_prepend_file for the cron runs of the benchmark: at shutdown, writes
 * PHP's peak memory (Zend allocator) and the process's max RSS (PHP + the
 * extension's Rust heap) to $BENCH_PEAK_FILE as JSON.
 */
if (getenv('BENCH_PEAK_FILE')) {
    register_shutdown_function(static function () {
        $r = getrusage();
        file_put_contents((string) getenv('BENCH_PEAK_FILE'), json_encode([
            'peak_php_bytes' => memory_get_peak_usage(true),
            'max_rss_kib' => (int) ($r['ru_maxrss'] ?? 0),
        ]));
    });
}
