<?php
/**
 * A child process whose output goes to files (no pipe can fill up and block
 * it), that can be killed at any moment and waited for.
 */
final class Proc
{
    /** @var resource */
    private $process;
    /** @var int */
    public $pid;
    /** @var string */
    public $stdoutFile;
    /** @var string */
    public $stderrFile;
    /** @var float microtime at start */
    public $startedAt;
    /** @var array|null the final proc_get_status() */
    private $final;

    /**
     * @param list<string> $cmd
     * @param array<string, string> $env added to this process's environment
     */
    public static function start(array $cmd, string $dir, string $label, array $env = []): self
    {
        $p = new self();
        $p->stdoutFile = $dir . '/' . $label . '.out';
        $p->stderrFile = $dir . '/' . $label . '.err';
        $p->startedAt = microtime(true);
        $process = proc_open(
            $cmd,
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', $p->stdoutFile, 'w'], 2 => ['file', $p->stderrFile, 'w']],
            $pipes,
            null,
            array_merge(getenv(), $env)
        );
        if (!is_resource($process)) {
            throw new RuntimeException('cannot start ' . implode(' ', $cmd));
        }
        $p->process = $process;
        $p->pid = (int) proc_get_status($process)['pid'];

        return $p;
    }

    public function running(): bool
    {
        return $this->status()['running'];
    }

    private function status(): array
    {
        if ($this->final !== null) {
            return $this->final;
        }
        $status = proc_get_status($this->process);
        if (!$status['running']) {
            $this->final = $status;
        }

        return $status;
    }

    /** Sends a signal (SIGKILL by default); true when the process was still running. */
    public function kill(int $signal = 9): bool
    {
        if (!$this->running()) {
            return false;
        }

        return proc_terminate($this->process, $signal);
    }

    /**
     * Waits for the end (SIGKILL after $timeout seconds).
     *
     * @return int the exit code, or 128 + signal when killed by a signal
     */
    public function wait(float $timeout = 60.0): int
    {
        $deadline = microtime(true) + $timeout;
        while ($this->running()) {
            if (microtime(true) > $deadline) {
                $this->kill(9);
                $deadline = microtime(true) + 5;
            }
            usleep(2000);
        }
        proc_close($this->process);
        $s = $this->final;
        if (!empty($s['signaled'])) {
            return 128 + (int) $s['termsig'];
        }

        return (int) $s['exitcode'];
    }

    public function stdout(): string
    {
        return (string) @file_get_contents($this->stdoutFile);
    }

    public function stderr(): string
    {
        return (string) @file_get_contents($this->stderrFile);
    }

    /** Resident set size of a process, in kB (0 when it is gone). */
    public static function rssKb(int $pid, string $field = 'VmRSS'): int
    {
        $status = @file_get_contents("/proc/$pid/status");

        return is_string($status) && preg_match('/^' . $field . ':\s+(\d+)\s+kB/m', $status, $m) ? (int) $m[1] : 0;
    }

    /** Threads of a process (0 when it is gone). */
    public static function threads(int $pid): int
    {
        $status = @file_get_contents("/proc/$pid/status");

        return is_string($status) && preg_match('/^Threads:\s+(\d+)/m', $status, $m) ? (int) $m[1] : 0;
    }

    /** The files a process has open (targets of /proc/PID/fd/*). */
    public static function openFiles(int $pid): array
    {
        $out = [];
        foreach (glob("/proc/$pid/fd/*") ?: [] as $fd) {
            $target = @readlink($fd);
            if (is_string($target)) {
                $out[] = $target;
            }
        }

        return $out;
    }

    /** Children of a process (by PPid in /proc). */
    public static function children(int $pid): array
    {
        $out = [];
        foreach (glob('/proc/[0-9]*/stat') ?: [] as $stat) {
            $text = @file_get_contents($stat);
            // pid (comm) state ppid ...: comm may hold spaces and parentheses
            if (is_string($text) && preg_match('/^(\d+) \(.*\) \S (\d+) /s', $text, $m) && (int) $m[2] === $pid) {
                $out[] = (int) $m[1];
            }
        }
        sort($out);

        return $out;
    }

    /**
     * The local ports of a process's TCP connections to 127.0.0.1:$remotePort
     * (its sockets in /proc/PID/fd matched by inode in /proc/net/tcp): which
     * server connections are that process's.
     *
     * @return list<int>
     */
    public static function tcpClientPorts(int $pid, int $remotePort): array
    {
        $inodes = [];
        foreach (self::openFiles($pid) as $f) {
            if (preg_match('/^socket:\[(\d+)\]$/', $f, $m)) {
                $inodes[$m[1]] = true;
            }
        }
        $ports = [];
        foreach (['/proc/net/tcp', '/proc/net/tcp6'] as $table) {
            foreach (array_slice(file($table) ?: [], 1) as $line) {
                $cols = preg_split('/\s+/', trim($line));
                if (!isset($cols[9], $inodes[$cols[9]])) {
                    continue;
                }
                $local = hexdec(substr((string) strrchr($cols[1], ':'), 1));
                $remote = hexdec(substr((string) strrchr($cols[2], ':'), 1));
                if ($remote === $remotePort) {
                    $ports[] = (int) $local;
                }
            }
        }
        sort($ports);

        return $ports;
    }

    /** A free TCP port on 127.0.0.1 (bound then released). */
    public static function freePort(): int
    {
        $server = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        if ($server === false) {
            throw new RuntimeException("no free port: $errstr");
        }
        $name = stream_socket_get_name($server, false);
        fclose($server);

        return (int) substr((string) $name, strrpos((string) $name, ':') + 1);
    }

    /** Waits until something listens on 127.0.0.1:$port. */
    public static function waitForPort(int $port, float $timeout = 10.0): bool
    {
        $deadline = microtime(true) + $timeout;
        while (microtime(true) < $deadline) {
            $c = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 0.2);
            if ($c !== false) {
                fclose($c);

                return true;
            }
            usleep(20000);
        }

        return false;
    }
}
