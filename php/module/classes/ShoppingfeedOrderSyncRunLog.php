<?php
/**
 * Where the order-sync cron writes what it did: the merchant looks at the
 * module's "Logs & crons" page, so a run's summary goes there first.
 *
 * Targets, the first one present wins:
 *
 * 1. classlib's ProcessLoggerHandler (the module ships classlib under the
 *    namespace ShoppingfeedClasslib\Extensions\ProcessLogger; a global
 *    alias ProcessLoggerHandler is accepted too). Its static API, as
 *    classlib 2.x declares it: openLogger($process = null) at the start of
 *    a process (it also erases old logs), logInfo / logError($msg,
 *    $objectModel = null, $objectId = null, $name = 'default') to add a line
 *    (the process's name replaces $name when a process was given), and
 *    closeLogger($msg = null), which writes the lines to the table
 *    <prefix>shoppingfeed_processlogger (lines are only kept in memory
 *    before that, but for a flush every 100 lines).
 * 2. PrestaShop's logger: PrestaShopLogger::addLog($message, $severity,
 *    null, 'Shoppingfeed', null, true) (severity 1 information, 3 error).
 * 3. stderr (the CLI), or PHP's error_log where there is no stderr.
 *
 * A logger that throws (a database down) never breaks the cron: the line
 * goes to the next target, and so do the later ones.
 *
 * Nothing secret is ever written: every line is scrubbed of the API tokens
 * the run used (addSecret()) and of the password of shoppingfeed_sync.database
 * (a mysql:// URL), and any URL's user:password@ part is masked.
 */
class ShoppingfeedOrderSyncRunLog
{
    const TARGET_PROCESS_LOGGER = 'process_logger';
    const TARGET_PRESTASHOP_LOGGER = 'prestashop_logger';
    const TARGET_STDERR = 'stderr';
    /** Writes nothing: for a caller that prints the run itself (the CLI runner). */
    const TARGET_NONE = 'none';

    /** classlib's process logger: the module's namespaced copy first. */
    const PROCESS_LOGGER_CLASSES = [
        'ShoppingfeedClasslib\Extensions\ProcessLogger\ProcessLoggerHandler',
        'ProcessLoggerHandler',
    ];

    /** The process name on the log page when no classlib process monitor is given. */
    const DEFAULT_NAME = 'shoppingfeed:syncOrderPostImport';
    /** Lines naming a failed order, per run (the rest are counted in one line). */
    const MAX_ORDER_LINES = 50;
    /** Longest line written (PrestaShop's log message column is limited). */
    const MAX_LINE = 900;

    /** @var string */
    private $target;
    /** @var string|null the process logger's class */
    private $loggerClass;
    /** @var object|null classlib's ProcessMonitorHandler of the running cron */
    private $process;
    /** @var string */
    private $name;
    /** @var list<string> */
    private $secrets = [];
    /** @var bool */
    private $opened = false;

    /**
     * @param string|null $target  one of TARGET_*; null: the first present (see above)
     * @param object|null $process classlib's process monitor of the running cron, if any
     */
    public function __construct($target = null, $process = null, $name = self::DEFAULT_NAME)
    {
        $this->process = $process;
        $this->name = (string) $name;
        $this->loggerClass = self::processLoggerClass();
        if ($target === null) {
            $target = self::detect();
        }
        if (!in_array($target, [self::TARGET_PROCESS_LOGGER, self::TARGET_PRESTASHOP_LOGGER, self::TARGET_STDERR, self::TARGET_NONE], true)) {
            throw new InvalidArgumentException('ShoppingfeedOrderSyncRunLog: unknown target ' . var_export($target, true));
        }
        if ($target === self::TARGET_PROCESS_LOGGER && $this->loggerClass === null) {
            throw new InvalidArgumentException('ShoppingfeedOrderSyncRunLog: classlib\'s ProcessLoggerHandler is not available');
        }
        if ($target === self::TARGET_PRESTASHOP_LOGGER && !class_exists('PrestaShopLogger')) {
            throw new InvalidArgumentException('ShoppingfeedOrderSyncRunLog: PrestaShopLogger is not available');
        }
        $this->target = $target;
        $this->addDatabaseSecret();
    }

    /** The target this environment offers first. */
    public static function detect()
    {
        if (self::processLoggerClass() !== null) {
            return self::TARGET_PROCESS_LOGGER;
        }
        if (class_exists('PrestaShopLogger')) {
            return self::TARGET_PRESTASHOP_LOGGER;
        }

        return self::TARGET_STDERR;
    }

    /** @return string|null */
    private static function processLoggerClass()
    {
        foreach (self::PROCESS_LOGGER_CLASSES as $class) {
            if (class_exists($class) && is_callable([$class, 'logInfo']) && is_callable([$class, 'closeLogger'])) {
                return $class;
            }
        }

        return null;
    }

    /** @return string one of TARGET_* (the one in use now: a failing logger hands over) */
    public function target()
    {
        return $this->target;
    }

    /** A secret no line may hold (an API token used by the run). */
    public function addSecret($secret)
    {
        // A value this short would blank out ordinary words and is no real token.
        if (is_string($secret) && strlen($secret) >= 4 && !in_array($secret, $this->secrets, true)) {
            $this->secrets[] = $secret;
        }

        return $this;
    }

    /** The password of a mysql:// shoppingfeed_sync.database, raw and decoded. */
    private function addDatabaseSecret()
    {
        $database = (string) ini_get('shoppingfeed_sync.database');
        if (preg_match('~^[a-z][a-z0-9+.-]*://[^:/@?#]*:([^/?#]*)@~i', $database, $m)) {
            $this->addSecret($m[1]);
            $this->addSecret(rawurldecode($m[1]));
        }
    }

    /** A line as it may be written: secrets replaced, URLs' passwords masked, bounded. */
    public function scrub($text)
    {
        $text = (string) $text;
        foreach ($this->secrets as $secret) {
            $text = str_replace($secret, '***', $text);
        }
        $text = (string) preg_replace('~([a-z][a-z0-9+.-]*://[^:/@?#\s]*:)[^/?#\s]*@~i', '$1***@', $text);
        $text = (string) preg_replace('~(Bearer\s+)\S+~i', '$1***', $text);
        if (strlen($text) > self::MAX_LINE) {
            $text = substr($text, 0, self::MAX_LINE - 3) . '...';
        }

        return $text;
    }

    /** Starts the run's log (classlib: openLogger). */
    public function open()
    {
        if ($this->target === self::TARGET_PROCESS_LOGGER && !$this->opened) {
            try {
                call_user_func([$this->loggerClass, 'openLogger'], $this->process);
                $this->opened = true;
            } catch (Throwable $e) {
                $this->handOver($e);
            }
        }

        return $this;
    }

    public function info($message, $objectModel = null, $objectId = null)
    {
        $this->write('info', $message, $objectModel, $objectId);

        return $this;
    }

    public function error($message, $objectModel = null, $objectId = null)
    {
        $this->write('error', $message, $objectModel, $objectId);

        return $this;
    }

    /** Writes the lines held by classlib (closeLogger); the log can be opened again. */
    public function close()
    {
        if ($this->target === self::TARGET_PROCESS_LOGGER && $this->opened) {
            $this->opened = false;
            try {
                call_user_func([$this->loggerClass, 'closeLogger']);
            } catch (Throwable $e) {
                $this->handOver($e);
            }
        }

        return $this;
    }

    /**
     * The summary of one run, as processCron() returns it: one line for the
     * run, one per shop, one per error message of a shop, one per order
     * that failed in this run.
     */
    public function runSummary(array $result)
    {
        $totals = isset($result['totals']) && is_array($result['totals']) ? $result['totals'] : [];
        $summary = isset($result['summary']) && is_array($result['summary']) ? $result['summary'] : [];
        $failedOrders = isset($result['failed_orders']) && is_array($result['failed_orders']) ? $result['failed_orders'] : [];
        $shopErrors = 0;
        foreach ($summary as $shop) {
            if (isset($shop['status']) && $shop['status'] === 'error') {
                $shopErrors++;
            }
        }
        $line = sprintf(
            'Order sync run: %d shop(s), %s; %.1f s%s',
            count($summary),
            self::counts($totals),
            ((int) ($result['duration_ms'] ?? 0)) / 1000,
            !empty($result['out_of_time']) ? ', stopped by its time budget (the rest waits for the next run)' : ''
        );
        if ($shopErrors > 0 || (int) ($totals['errors'] ?? 0) > 0 || $failedOrders) {
            $this->error($line);
        } else {
            $this->info($line);
        }
        foreach ($summary as $shop) {
            $idShop = (int) ($shop['id_shop'] ?? 0);
            $text = sprintf('Shop %d: %s; %s', $idShop, (string) ($shop['status'] ?? '?'), self::counts($shop));
            if (isset($shop['message']) && $shop['message'] !== null && $shop['message'] !== '') {
                $text .= ' - ' . $shop['message'];
            }
            if (($shop['status'] ?? '') === 'error' || (int) ($shop['errors'] ?? 0) > 0) {
                $this->error($text, 'Shop', $idShop);
            } else {
                $this->info($text, 'Shop', $idShop);
            }
            foreach (isset($shop['error_messages']) && is_array($shop['error_messages']) ? $shop['error_messages'] : [] as $message) {
                $this->error(sprintf('Shop %d: %s', $idShop, (string) $message), 'Shop', $idShop);
            }
        }
        foreach (array_slice($failedOrders, 0, self::MAX_ORDER_LINES) as $order) {
            $this->error(sprintf(
                'Order %d (shop %d): %s given up: %s',
                (int) ($order['id_order'] ?? 0),
                (int) ($order['id_shop'] ?? 0),
                isset($order['operation']) && $order['operation'] !== null ? (string) $order['operation'] : 'update',
                isset($order['last_error']) && $order['last_error'] !== null && $order['last_error'] !== '' ? (string) $order['last_error'] : 'no message'
            ), 'Order', (int) ($order['id_order'] ?? 0));
        }
        if (count($failedOrders) > self::MAX_ORDER_LINES) {
            $this->error(sprintf('... and %d more orders given up in this run (see the merchant mail or sync-orders.php failed)', count($failedOrders) - self::MAX_ORDER_LINES));
        }

        return $this;
    }

    /** "sent N, tickets read N, settled N (done N, retry later N, failed N), errors N". */
    private static function counts(array $stats)
    {
        $n = static function ($key) use ($stats) {
            return isset($stats[$key]) ? (int) $stats[$key] : 0;
        };

        return sprintf(
            'sent %d, tickets read %d, settled %d (done %d, retry later %d, failed %d), errors %d',
            $n('sent'),
            $n('checked'),
            $n('succeeded') + $n('pending') + $n('failed'),
            $n('succeeded'),
            $n('pending'),
            $n('failed'),
            $n('errors')
        );
    }

    private function write($level, $message, $objectModel, $objectId)
    {
        $text = $this->scrub($message);
        if ($this->target === self::TARGET_PROCESS_LOGGER) {
            try {
                if (!$this->opened) {
                    $this->open();
                }
                if ($this->target === self::TARGET_PROCESS_LOGGER) {
                    call_user_func(
                        [$this->loggerClass, $level === 'error' ? 'logError' : 'logInfo'],
                        $text,
                        $objectModel,
                        $objectId,
                        $this->name
                    );

                    return;
                }
            } catch (Throwable $e) {
                $this->handOver($e);
            }
        }
        if ($this->target === self::TARGET_PRESTASHOP_LOGGER) {
            try {
                PrestaShopLogger::addLog('Shopping Feed order sync: ' . $text, $level === 'error' ? 3 : 1, null, 'Shoppingfeed', null, true);

                return;
            } catch (Throwable $e) {
                $this->handOver($e);
            }
        }
        if ($this->target === self::TARGET_STDERR) {
            $line = '[shoppingfeed_sync] ' . ($level === 'error' ? 'error: ' : '') . $text;
            if (defined('STDERR')) {
                fwrite(STDERR, $line . "\n");
            } else {
                error_log($line);
            }
        }
    }

    /** The current target failed: the next one takes over (and is told why). */
    private function handOver(Throwable $e)
    {
        $failed = $this->target;
        $this->opened = false;
        if ($failed === self::TARGET_PROCESS_LOGGER && class_exists('PrestaShopLogger')) {
            $this->target = self::TARGET_PRESTASHOP_LOGGER;
        } elseif ($failed !== self::TARGET_NONE) {
            $this->target = self::TARGET_STDERR;
        }
        $this->write('error', sprintf('the %s failed (%s: %s); the log continues here', str_replace('_', ' ', $failed), get_class($e), $e->getMessage()), null, null);
    }
}
