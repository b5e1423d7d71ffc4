<?php
/**
 * A FastCGI client for the PHP-FPM benchmark, in PHP: requests go straight
 * to the pool's socket, several at a time, from this one process.
 *
 * Why not cgi-fcgi: it is one process per request. At a few hundred
 * requests a second on 2 cores, forking and exec'ing them took the CPU
 * from the workers in the middle of their saves, and the benchmark measured
 * the load generator (a batch-mode save's p99 over 1 ms) rather than the
 * extension. Here a request costs a connect and two writes.
 *
 * The protocol (FastCGI 1.0): records of an 8-byte header (version, type,
 * request id, content length, padding length) and their content. One
 * request per connection (no FCGI_KEEP_CONN): the worker closes it after
 * END_REQUEST, as with cgi-fcgi.
 */

final class BenchFcgiRequest
{
    /** @var resource */
    public $socket;
    public string $out = '';
    public string $in = '';
    public string $stdout = '';
    public bool $ended = false;
    public $tag;
}

final class BenchFcgi
{
    private const BEGIN_REQUEST = 1;
    private const END_REQUEST = 3;
    private const PARAMS = 4;
    private const STDIN = 5;
    private const STDOUT = 6;
    private const RESPONDER = 1;

    private string $address;
    /** @var BenchFcgiRequest[] */
    private array $open = [];

    public function __construct(string $host, int $port)
    {
        $this->address = "tcp://$host:$port";
    }

    public function inFlight(): int
    {
        return count($this->open);
    }

    /** Starts one GET of $script with $query; $tag comes back with its answer. */
    public function start(string $script, string $query, $tag): void
    {
        $s = @stream_socket_client($this->address, $errno, $errstr, 5);
        if ($s === false) {
            throw new RuntimeException("fcgi: cannot connect to {$this->address}: $errstr");
        }
        stream_set_blocking($s, false);
        $params = [
            'SCRIPT_FILENAME' => $script,
            'SCRIPT_NAME' => '/' . basename($script),
            'REQUEST_URI' => '/' . basename($script) . "?$query",
            'REQUEST_METHOD' => 'GET',
            'QUERY_STRING' => $query,
            'SERVER_NAME' => 'bench.test',
            'SERVER_PORT' => '80',
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'GATEWAY_INTERFACE' => 'CGI/1.1',
            'REMOTE_ADDR' => '127.0.0.1',
        ];
        $body = '';
        foreach ($params as $k => $v) {
            $body .= self::length(strlen($k)) . self::length(strlen($v)) . $k . $v;
        }
        $r = new BenchFcgiRequest();
        $r->socket = $s;
        $r->tag = $tag;
        $r->out = self::record(self::BEGIN_REQUEST, pack('nCx5', self::RESPONDER, 0))
            . self::record(self::PARAMS, $body) . self::record(self::PARAMS, '')
            . self::record(self::STDIN, '');
        $this->open[(int) $s] = $r;
    }

    /**
     * Moves bytes for up to $timeoutUs and returns the requests that ended
     * meanwhile (their `stdout` holds the answer, headers included).
     *
     * @return BenchFcgiRequest[]
     */
    public function pump(int $timeoutUs): array
    {
        $done = [];
        if (!$this->open) {
            return $done;
        }
        $read = $write = [];
        foreach ($this->open as $r) {
            $read[] = $r->socket;
            if ($r->out !== '') {
                $write[] = $r->socket;
            }
        }
        $except = null;
        if (@stream_select($read, $write, $except, 0, $timeoutUs) === false) {
            return $done;
        }
        foreach ($write as $s) {
            $r = $this->open[(int) $s];
            $n = @fwrite($s, $r->out);
            if ($n > 0) {
                $r->out = (string) substr($r->out, $n);
            }
        }
        foreach ($read as $s) {
            $r = $this->open[(int) $s];
            $chunk = @fread($s, 65536);
            if ($chunk !== false && $chunk !== '') {
                $r->in .= $chunk;
                $this->parse($r);
            } elseif (feof($s)) {
                $r->ended = true;
            }
            if ($r->ended) {
                fclose($s);
                unset($this->open[(int) $s]);
                $done[] = $r;
            }
        }

        return $done;
    }

    private function parse(BenchFcgiRequest $r): void
    {
        while (strlen($r->in) >= 8) {
            $h = unpack('Cversion/Ctype/nid/nlength/Cpadding', $r->in);
            $total = 8 + $h['length'] + $h['padding'];
            if (strlen($r->in) < $total) {
                return;
            }
            $content = substr($r->in, 8, $h['length']);
            $r->in = (string) substr($r->in, $total);
            if ($h['type'] === self::STDOUT) {
                $r->stdout .= $content;
            } elseif ($h['type'] === self::END_REQUEST) {
                $r->ended = true;
            }
        }
    }

    private static function record(int $type, string $content): string
    {
        $pad = (8 - strlen($content) % 8) % 8;

        return pack('CCnnCx', 1, $type, 1, strlen($content), $pad) . $content . str_repeat("\0", $pad);
    }

    private static function length(int $n): string
    {
        return $n < 128 ? chr($n) : pack('N', $n | 0x80000000);
    }
}
