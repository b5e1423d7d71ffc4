<?php
/**
 * The local Shopping Feed sandbox (sf-sandbox) used by the suite: one process
 * for the whole run, started by bootstrap.php, driven over its HTTP control
 * API (/_sandbox/...).
 */
final class Sandbox
{
    /** Token and store the sandbox accepts. */
    const TOKEN = 'sandbox-token';
    const STORE_ID = 42;

    /** @var string|null base URL, http://127.0.0.1:PORT */
    private static $url;
    /** @var resource|null */
    private static $process;
    /** @var string|null */
    private static $logFile;

    public static function url(): string
    {
        if (self::$url === null) {
            throw new LogicException('the sandbox is not started');
        }

        return self::$url;
    }

    /**
     * Starts the sandbox binary (or uses SHOPPINGFEED_SANDBOX_URL when set).
     */
    public static function start(string $binary, string $workDir): void
    {
        $external = getenv('SHOPPINGFEED_SANDBOX_URL');
        if (is_string($external) && $external !== '') {
            self::$url = rtrim($external, '/');

            return;
        }
        if (!is_file($binary) || !is_executable($binary)) {
            throw new RuntimeException('sandbox binary not found: ' . $binary
                . ' (build it with `cargo build --release`, or set SHOPPINGFEED_SANDBOX_BIN / SHOPPINGFEED_SANDBOX_URL)');
        }
        self::$logFile = $workDir . '/sandbox.out';
        $process = proc_open(
            [$binary, '--port', '0'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', self::$logFile, 'w'], 2 => ['file', $workDir . '/sandbox.err', 'w']],
            $pipes
        );
        if (!is_resource($process)) {
            throw new RuntimeException('cannot start the sandbox ' . $binary);
        }
        self::$process = $process;
        $deadline = microtime(true) + 15;
        while (microtime(true) < $deadline) {
            $out = (string) @file_get_contents(self::$logFile);
            if (preg_match('~listening on (http://127\.0\.0\.1:\d+)~', $out, $m)) {
                self::$url = $m[1];

                return;
            }
            $status = proc_get_status($process);
            if (!$status['running']) {
                throw new RuntimeException('the sandbox exited at start: ' . @file_get_contents($workDir . '/sandbox.err'));
            }
            usleep(20000);
        }
        self::stop();
        throw new RuntimeException('the sandbox did not print its URL within 15 s');
    }

    public static function stop(): void
    {
        if (is_resource(self::$process)) {
            proc_terminate(self::$process);
            proc_close(self::$process);
        }
        self::$process = null;
    }

    /** Back to a clean state: config, faults, log, stats, orders. */
    public static function reset(): void
    {
        self::request('POST', '/_sandbox/reset');
        self::request('DELETE', '/_sandbox/faults');
        self::request('DELETE', '/_sandbox/log');
    }

    public static function config(array $config): array
    {
        foreach (['fail_orders', 'cancel_orders', 'reject_orders'] as $map) {
            if (isset($config[$map]) && $config[$map] === []) {
                $config[$map] = new stdClass(); // a JSON object, not []
            }
        }

        return self::request('POST', '/_sandbox/config', $config);
    }

    /** @param list<array<string, mixed>> $faults */
    public static function faults(array $faults): array
    {
        return self::request('POST', '/_sandbox/faults', ['faults' => $faults]);
    }

    public static function clearFaults(): void
    {
        self::request('DELETE', '/_sandbox/faults');
    }

    /** @return list<array<string, mixed>> every request the sandbox received (since the last reset) */
    public static function log(): array
    {
        return self::request('GET', '/_sandbox/log')['requests'] ?? [];
    }

    public static function clearLog(): void
    {
        self::request('DELETE', '/_sandbox/log');
    }

    public static function stats(): array
    {
        return self::request('GET', '/_sandbox/stats');
    }

    /** @return list<array<string, mixed>> the tickets made for one order (internal id or reference) */
    public static function orderTickets(string $key): array
    {
        return self::request('GET', '/_sandbox/orders/' . rawurlencode($key));
    }

    /**
     * The order POSTs the sandbox received: operation, status, elements (the body's "order" list).
     *
     * @return list<array{operation: string|null, status: int|null, path: string, elements: list<array>, auth_ok: bool, batch_id: string|null, at_ms: int}>
     */
    public static function orderPosts(?int $status = null): array
    {
        $out = [];
        foreach (self::log() as $entry) {
            if (($entry['method'] ?? '') !== 'POST' || strpos((string) ($entry['path'] ?? ''), '/order/') === false) {
                continue;
            }
            if ($status !== null && ($entry['status'] ?? null) !== $status) {
                continue;
            }
            $body = $entry['body'] ?? null;
            if (is_string($body)) {
                $body = json_decode($body, true);
            }
            $elements = is_array($body) ? ($body['order'] ?? $body) : [];
            $out[] = [
                'operation' => $entry['operation'] ?? null,
                'status' => $entry['status'] ?? null,
                'path' => (string) $entry['path'],
                'elements' => is_array($elements) ? array_values($elements) : [],
                'auth_ok' => (bool) ($entry['auth_ok'] ?? false),
                'batch_id' => $entry['batch_id'] ?? null,
                'at_ms' => (int) ($entry['at_ms'] ?? 0),
            ];
        }

        return $out;
    }

    /** Every /v1 request (API calls, not the control API). */
    public static function apiRequests(): array
    {
        return array_values(array_filter(self::log(), static function (array $e) {
            return strpos((string) ($e['path'] ?? ''), '/v1/') === 0;
        }));
    }

    /**
     * @return array decoded JSON answer
     */
    public static function request(string $method, string $path, $body = null): array
    {
        $ch = curl_init(self::url() . $path);
        $headers = ['Accept: application/json'];
        curl_setopt_array($ch, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT => 10,
            CURLOPT_CONNECTTIMEOUT => 5,
        ]);
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
            curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($body));
        }
        curl_setopt($ch, CURLOPT_HTTPHEADER, $headers);
        $answer = curl_exec($ch);
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        $error = curl_error($ch);
        curl_close($ch);
        if ($answer === false) {
            throw new RuntimeException("sandbox $method $path failed: $error");
        }
        if ($status >= 400) {
            throw new RuntimeException("sandbox $method $path answered $status: $answer");
        }
        $decoded = json_decode((string) $answer, true);

        return is_array($decoded) ? $decoded : [];
    }
}
