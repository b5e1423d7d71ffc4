<?php
/**
 * One "web server" for MultiServerTest: Debian's php-fpm8.2 with a php.ini
 * of its own (the extension and its INI settings, as a production server
 * has them), a static pool on a loopback port, driven over FastCGI by
 * cgi-fcgi, requests started without waiting (several at a time).
 */
final class FpmServer
{
    const FPM = '/usr/sbin/php-fpm8.2';
    const CGI_FCGI = '/usr/bin/cgi-fcgi';

    /** @var string */
    public $name;
    /** @var string its folder: php.ini, fpm.conf, logs */
    public $dir;
    /** @var int */
    public $port;
    /** @var Proc the master */
    public $master;
    /** @var int */
    private $n = 0;

    /** Why this machine cannot run the servers (null when it can). */
    public static function missing(): ?string
    {
        foreach ([self::FPM, self::CGI_FCGI] as $bin) {
            if (!is_executable($bin)) {
                return "$bin is missing: apt-get install -y php8.2-fpm libfcgi-bin (scripts/setup.sh installs them)";
            }
        }

        return null;
    }

    /**
     * Writes the server's php.ini (the lines given, one setting each) and
     * pool, starts the master and waits for its workers.
     *
     * @param array<string, string> $ini php.ini settings (values quoted here)
     */
    public static function start(string $name, string $dir, array $ini, int $workers): self
    {
        $s = new self();
        $s->name = $name;
        $s->dir = $dir;
        mkdir($dir, 0700, true);
        $s->port = Proc::freePort();
        $lines = [];
        foreach ($ini as $key => $value) {
            $lines[] = $key . ' = "' . $value . '"';
        }
        file_put_contents("$dir/php.ini", implode("\n", $lines) . "\n");
        file_put_contents("$dir/fpm.conf", <<<INI
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
log_level = notice
daemonize = no

[$name]
listen = 127.0.0.1:{$s->port}
pm = static
pm.max_children = $workers
catch_workers_output = yes
decorate_workers_output = no
clear_env = no
php_admin_flag[log_errors] = on
php_admin_value[error_log] = $dir/php-errors.log

INI
        );
        $cmd = [self::FPM, '-F', '-c', "$dir/php.ini", '-y', "$dir/fpm.conf"];
        if (function_exists('posix_getuid') && posix_getuid() === 0) {
            $cmd[] = '-R'; // the test machine runs as root
        }
        $s->master = Proc::start($cmd, $dir, 'master');
        if (!Proc::waitForPort($s->port, 15)) {
            throw new RuntimeException("php-fpm $name did not listen: " . $s->master->stderr() . @file_get_contents("$dir/fpm.log"));
        }
        $deadline = microtime(true) + 10;
        while (count(Proc::children($s->master->pid)) < $workers) {
            if (microtime(true) > $deadline) {
                throw new RuntimeException("php-fpm $name did not start its $workers workers");
            }
            usleep(20000);
        }

        return $s;
    }

    /** Starts one GET request of a page of tests/reliability/fixtures/fpm/ (does not wait). */
    public function request(string $page, string $query): Proc
    {
        $script = dirname(__DIR__) . '/fixtures/fpm/' . $page;

        return Proc::start([self::CGI_FCGI, '-bind', '-connect', '127.0.0.1:' . $this->port], $this->dir, 'req-' . (++$this->n), [
            'SCRIPT_FILENAME' => $script,
            'SCRIPT_NAME' => '/' . $page,
            'REQUEST_URI' => '/' . $page . '?' . $query,
            'REQUEST_METHOD' => 'GET',
            'QUERY_STRING' => $query,
            'SERVER_NAME' => $this->name . '.shop.test',
            'SERVER_PORT' => '80',
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'GATEWAY_INTERFACE' => 'CGI/1.1',
            'REMOTE_ADDR' => '127.0.0.1',
        ]);
    }

    /**
     * The answer of a finished request: its JSON body decoded, or
     * ['raw' => output] when it is not JSON. Removes its output files.
     */
    public static function answer(Proc $p): array
    {
        $code = $p->wait(5);
        $raw = $p->stdout();
        $body = ($pos = strpos($raw, "\r\n\r\n")) !== false ? substr($raw, $pos + 4) : $raw;
        $decoded = json_decode($body, true);
        $answer = is_array($decoded) ? $decoded : ['raw' => $raw . $p->stderr()];
        @unlink($p->stdoutFile);
        @unlink($p->stderrFile);

        return $answer + ['cgi_exit' => $code];
    }

    /** The master's and the workers' logs (FPM's, PHP's error log). */
    public function logs(): string
    {
        return (string) @file_get_contents($this->dir . '/fpm.log') . (string) @file_get_contents($this->dir . '/php-errors.log');
    }

    public function workers(): array
    {
        return Proc::children($this->master->pid);
    }

    public function stop(): void
    {
        $this->master->kill(15);
        $this->master->wait(10);
    }
}
