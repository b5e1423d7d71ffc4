<?php
/**
 * The baseline's HTTP side: curl_multi with a rolling window of requests in
 * flight (10), keep-alive connections reused through the multi handle, as a
 * competent PHP developer (or Guzzle's CurlMultiHandler) does it.
 */
class HttpPool
{
    /** @var CurlMultiHandle */
    private $mh;
    /** @var int */
    private $window;
    /** @var string */
    private $token;
    /** @var int */
    private $timeoutMs;
    /** @var int requests made */
    public $requests = 0;

    public function __construct(string $token, int $window = 10, int $timeoutMs = 3000)
    {
        $this->mh = curl_multi_init();
        curl_multi_setopt($this->mh, CURLMOPT_MAXCONNECTS, $window * 2);
        $this->window = $window;
        $this->token = $token;
        $this->timeoutMs = $timeoutMs;
    }

    private function handle(string $method, string $url, ?string $body)
    {
        $ch = curl_init($url);
        $headers = ['Authorization: Bearer ' . $this->token, 'Accept: application/json'];
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
            curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
        }
        curl_setopt_array($ch, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT_MS => $this->timeoutMs,
            CURLOPT_CONNECTTIMEOUT_MS => $this->timeoutMs,
            CURLOPT_ENCODING => '',
        ]);

        return $ch;
    }

    /**
     * Runs the requests, at most `window` in flight, and calls
     * $done($key, $status, $body) as each one completes.
     *
     * @param iterable<string|int, array{0: string, 1: string, 2: ?string}> $requests key => [method, url, body]
     */
    public function run(iterable $requests, callable $done): void
    {
        $iter = (function () use ($requests) {
            yield from $requests;
        })();
        $active = [];
        $fill = function () use ($iter, &$active) {
            while (count($active) < $this->window && $iter->valid()) {
                [$method, $url, $body] = $iter->current();
                $ch = $this->handle($method, $url, $body);
                $active[(int) $ch] = [$iter->key(), $ch];
                curl_multi_add_handle($this->mh, $ch);
                $this->requests++;
                $iter->next();
            }
        };
        $fill();
        do {
            $status = curl_multi_exec($this->mh, $running);
            while ($info = curl_multi_info_read($this->mh)) {
                $ch = $info['handle'];
                [$key] = $active[(int) $ch];
                unset($active[(int) $ch]);
                $code = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
                $body = (string) curl_multi_getcontent($ch);
                curl_multi_remove_handle($this->mh, $ch);
                curl_close($ch);
                $fill();
                $done($key, $code, $body);
            }
            if ($running || $active) {
                curl_multi_select($this->mh, 0.05);
            }
        } while ($status === CURLM_OK && ($active || $iter->valid()));
    }
}
