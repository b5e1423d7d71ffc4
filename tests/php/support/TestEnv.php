<?php
/**
 * Paths and temporary folders of the test run.
 */
final class TestEnv
{
    /** @var string */
    public static $root;
    /** @var string temp folder of this run (removed at the end) */
    public static $tmp;
    /** @var string the extension's .so (for child PHP processes) */
    public static $extension;
    /** @var int */
    private static $counter = 0;

    public static function moduleDir(): string
    {
        return self::$root . '/php/module/';
    }

    /** A new empty folder under the run's temp folder. */
    public static function newDir(string $label): string
    {
        $dir = self::$tmp . '/' . (++self::$counter) . '-' . substr(preg_replace('/[^A-Za-z0-9_-]+/', '_', $label), 0, 60);
        mkdir($dir, 0700, true);

        return $dir;
    }

    /**
     * The command line of a child PHP with the extension loaded and the
     * current queue/API INI settings.
     *
     * @return list<string>
     */
    public static function phpCommand(array $extraIni = []): array
    {
        $ini = [
            'shoppingfeed_sync.database' => (string) ini_get('shoppingfeed_sync.database'),
            'shoppingfeed_sync.api_url' => (string) ini_get('shoppingfeed_sync.api_url'),
            'shoppingfeed_sync.timeout_ms' => (string) ini_get('shoppingfeed_sync.timeout_ms'),
        ];
        $cmd = [PHP_BINARY, '-d', 'extension=' . self::$extension, '-d', 'display_errors=stderr'];
        foreach (array_merge($ini, $extraIni) as $name => $value) {
            $cmd[] = '-d';
            $cmd[] = $name . '=' . $value;
        }

        return $cmd;
    }

    /**
     * Runs a command, returns [exit code, stdout, stderr].
     *
     * @param list<string> $cmd
     */
    public static function run(array $cmd, array $env = [], float $timeout = 60.0): array
    {
        $process = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env ? array_merge(getenv(), $env) : null);
        if (!is_resource($process)) {
            throw new RuntimeException('cannot run ' . implode(' ', $cmd));
        }
        [$out, $err] = self::drain($pipes, $process, $timeout);
        $code = self::close($process);

        return [$code, $out, $err];
    }

    /**
     * Reads both pipes until the process ends (or the timeout kills it).
     *
     * @return array{0: string, 1: string}
     */
    public static function drain(array $pipes, $process, float $timeout): array
    {
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        $out = $err = '';
        $deadline = microtime(true) + $timeout;
        while (true) {
            $read = array_filter([$pipes[1], $pipes[2]], static function ($p) {
                return !feof($p);
            });
            if (!$read) {
                break;
            }
            if (microtime(true) > $deadline) {
                proc_terminate($process);
                break;
            }
            $w = $e = null;
            if (@stream_select($read, $w, $e, 0, 100000) > 0) {
                foreach ($read as $p) {
                    $chunk = (string) fread($p, 65536);
                    if ($p === $pipes[1]) {
                        $out .= $chunk;
                    } else {
                        $err .= $chunk;
                    }
                }
            }
        }
        fclose($pipes[1]);
        fclose($pipes[2]);

        return [$out, $err];
    }

    /** proc_close() that keeps the exit code even when proc_get_status() consumed it. */
    public static function close($process): int
    {
        $status = proc_get_status($process);
        $code = proc_close($process);
        if (!$status['running'] && $status['exitcode'] !== -1) {
            return $status['exitcode'];
        }

        return $code;
    }

    public static function removeTree(string $dir): void
    {
        if (!is_dir($dir) || strpos($dir, sys_get_temp_dir()) !== 0) {
            return;
        }
        $items = new RecursiveIteratorIterator(
            new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS),
            RecursiveIteratorIterator::CHILD_FIRST
        );
        foreach ($items as $item) {
            $item->isDir() && !$item->isLink() ? @rmdir($item->getPathname()) : @unlink($item->getPathname());
        }
        @rmdir($dir);
    }
}
