<?php
/**
 * Test double of classlib's CronController (a PrestaShop front controller),
 * written from shared/docs/prestashop-integration.md: checks a secure key,
 * takes a process lock (refused while another run of the same process holds
 * it, unless that lock is older than an hour), calls processCron($data) and
 * answers JSON. Like classlib's process monitor, the data processCron()
 * returns is kept and handed to the next run (merged under the request's data).
 *
 * run() stands for the HTTP request: it takes the query parameters and
 * returns the JSON answer (also kept in $answer / $status).
 */
abstract class CronController
{
    /** Seconds after which a lock is considered left by a dead run. */
    const LOCK_TTL = 3600;

    /** @var string the expected secure_key */
    public static $secureKey = 'cron-secure-key';
    /** @var string where locks live (one JSON file per process) */
    public static $lockDir = '';

    /** @var string */
    public $processName;
    /** @var mixed the module instance in PrestaShop; unused here */
    public $module;
    /** @var string|null last JSON answer */
    public $answer;
    /** @var int last HTTP status */
    public $status = 0;

    public function __construct()
    {
        $this->processName = 'shoppingfeed:' . get_class($this);
    }

    /**
     * @param mixed $data the process data (previous run's result merged with the request's)
     *
     * @return mixed data to keep for the next run
     */
    abstract protected function processCron($data);

    /**
     * One request to the controller.
     *
     * @param array $query the request's parameters (secure_key)
     * @param array $data  extra process data for this run (what a caller would configure)
     */
    public function run(array $query = [], array $data = []): string
    {
        $key = isset($query['secure_key']) ? (string) $query['secure_key'] : '';
        if ($key === '' || !hash_equals((string) self::$secureKey, $key)) {
            return $this->answer(403, ['success' => false, 'error' => 'Invalid secure key']);
        }
        $stored = $this->lock();
        if ($stored === false) {
            return $this->answer(409, ['success' => false, 'error' => 'The process ' . $this->processName . ' is already running']);
        }
        $result = $stored;
        try {
            $result = $this->processCron(array_merge($stored, $data));
        } finally {
            $this->unlock(is_array($result) ? $result : []);
        }

        return $this->answer(200, ['success' => true, 'process' => $this->processName, 'data' => $result]);
    }

    public function lockFile(): string
    {
        return rtrim(self::$lockDir, '/') . '/' . preg_replace('/[^A-Za-z0-9_.-]/', '_', $this->processName) . '.json';
    }

    /**
     * @return array|false the kept data, or false when another run holds the lock
     */
    protected function lock()
    {
        if (!is_dir(self::$lockDir)) {
            mkdir(self::$lockDir, 0700, true);
        }
        $mutex = fopen($this->lockFile() . '.mutex', 'c');
        flock($mutex, LOCK_EX);
        try {
            $state = $this->readLock();
            if ($state['locked_at'] !== null && time() - (int) $state['locked_at'] < self::LOCK_TTL) {
                return false;
            }
            $state['locked_at'] = time();
            $state['pid'] = getmypid();
            file_put_contents($this->lockFile(), json_encode($state));

            return is_array($state['data']) ? $state['data'] : [];
        } finally {
            flock($mutex, LOCK_UN);
            fclose($mutex);
        }
    }

    protected function unlock(array $data): void
    {
        file_put_contents($this->lockFile(), json_encode(['locked_at' => null, 'pid' => null, 'data' => $data]));
    }

    protected function readLock(): array
    {
        $state = is_file($this->lockFile()) ? json_decode((string) file_get_contents($this->lockFile()), true) : null;
        if (!is_array($state)) {
            $state = [];
        }

        return $state + ['locked_at' => null, 'pid' => null, 'data' => []];
    }

    protected function answer(int $status, array $body): string
    {
        $this->status = $status;
        $this->answer = json_encode($body);

        return $this->answer;
    }
}
