<?php
/**
 * Standalone stand-ins for the few PrestaShop / classlib classes the
 * order-sync cron needs, so that php/tools/bin/sync-orders.php and php/tools/demo.php
 * run without a PrestaShop installation.
 *
 * Each class is declared ONLY when no class of that name exists (or can be
 * autoloaded): inside PrestaShop the real Configuration, ActionsHandler and
 * CronController are used and this file declares nothing.
 *
 *   Configuration   an in-memory settings store, filled by the CLI options;
 *                   get() answers like PrestaShop's (strings, false when unset,
 *                   the shop's value before the global one).
 *   ActionsHandler  classlib's Actions protocol (class resolution through
 *                   classes/actions/, override folder, stop at the first
 *                   falsy action, conveyor copied back).
 *   CronController  classlib's cron base without the HTTP part: runCron()
 *                   takes the process lock (a file; a lock older than an
 *                   hour is considered dead), calls processCron() and gives
 *                   back its result.
 *
 * These are NOT the test doubles: tests/php/doubles/ holds separate stand-ins
 * written from the PrestaShop facts, so the tests do not check this file
 * against itself (tests/php/CliTest.php runs the CLI, and so this file, as a
 * black box).
 */

if (!defined('SHOPPINGFEED_SYNC_STANDALONE')) {
    define('SHOPPINGFEED_SYNC_STANDALONE', true);
}

if (!class_exists('ShoppingfeedCronLockedException')) {
    /** Thrown by the standalone CronController::runCron() while another live run holds the lock. */
    class ShoppingfeedCronLockedException extends RuntimeException
    {
    }
}

if (!class_exists('Configuration')) {
    class Configuration
    {
        /** @var array<string, array<string, string>> key => 'global' | 'shop:ID' => value */
        private static $values = [];

        /**
         * Sets a value, as PrestaShop stores it (a string); $idShop null = every shop.
         *
         * @param mixed $value scalars; arrays are stored as JSON (the state lists)
         */
        public static function set(string $key, $value, ?int $idShop = null): void
        {
            if (is_array($value)) {
                $value = json_encode(array_values($value));
            } elseif (is_bool($value)) {
                $value = $value ? '1' : '0';
            }
            self::$values[$key][$idShop === null ? 'global' : 'shop:' . $idShop] = (string) $value;
        }

        /** @return string|false */
        public static function get($key, $idLang = null, $idShopGroup = null, $idShop = null, $default = false)
        {
            $scopes = self::$values[$key] ?? [];
            if ($idShop !== null && array_key_exists('shop:' . (int) $idShop, $scopes)) {
                return $scopes['shop:' . (int) $idShop];
            }

            return array_key_exists('global', $scopes) ? $scopes['global'] : $default;
        }

        public static function updateValue($key, $values, $html = false, $idShopGroup = null, $idShop = null): bool
        {
            self::set((string) $key, $values, $idShop === null ? null : (int) $idShop);

            return true;
        }
    }
}

if (!class_exists('ActionsHandler')) {
    class ActionsHandler
    {
        /** @var string folder holding classes/actions/ (the module's folder) */
        public static $moduleDir;
        /** @var string|null folder of merchant overrides (classes/actions/<Class>.php declaring <Class>Override) */
        public static $overrideDir;

        protected $modelObject;
        protected $conveyor = [];
        protected $actions = [];

        public function setModelObject($modelObject)
        {
            $this->modelObject = $modelObject;

            return $this;
        }

        public function setConveyor($conveyorData)
        {
            $this->conveyor = $conveyorData;

            return $this;
        }

        public function getConveyor()
        {
            return $this->conveyor;
        }

        public function addActions(...$actions)
        {
            $this->actions = $actions;

            return $this;
        }

        public function process($className)
        {
            if (!class_exists($className)) {
                $className = ucfirst((string) $className) . 'Actions';
                if (!preg_match('/^[a-zA-Z]+$/', $className)) {
                    throw new Exception('"' . $className . '" class name not valid');
                }
                $moduleDir = self::$moduleDir ?? dirname(__DIR__, 2) . '/module/';
                include_once $moduleDir . 'classes/actions/' . $className . '.php';
                if (self::$overrideDir !== null && is_file(self::$overrideDir . 'classes/actions/' . $className . '.php')) {
                    include_once self::$overrideDir . 'classes/actions/' . $className . '.php';
                    $className .= 'Override';
                }
            }
            if (!class_exists($className)) {
                throw new Exception('"' . $className . '" class not defined');
            }
            $classAction = new $className();
            $classAction->setModelObject($this->modelObject);
            $classAction->setConveyor($this->conveyor);
            foreach ($this->actions as $action) {
                if (!is_callable([$classAction, $action])) {
                    continue;
                }
                if (!call_user_func([$classAction, $action])) {
                    $this->setConveyor($classAction->getConveyor());

                    return false;
                }
            }
            $this->setConveyor($classAction->getConveyor());

            return true;
        }
    }
}

if (!class_exists('CronController')) {
    abstract class CronController
    {
        /** Seconds after which a lock is considered left by a dead run. */
        const LOCK_TTL = 3600;

        /** @var string|null where the lock file lives (default: the system's temp dir) */
        public static $lockDir;

        /** @var string */
        public $processName;

        public function __construct()
        {
            $this->processName = 'shoppingfeed-' . get_class($this);
        }

        abstract protected function processCron($data);

        public function lockFile(): string
        {
            $dir = self::$lockDir ?? sys_get_temp_dir();

            return rtrim($dir, '/') . '/' . preg_replace('/[^A-Za-z0-9_.-]/', '_', $this->processName) . '.lock';
        }

        /**
         * Runs the cron once under the process lock.
         *
         * @param bool $lock false to run without the lock (several runners on
         *                   one queue are safe: the extension's claims are exclusive)
         *
         * @return mixed what processCron() returned
         *
         * @throws ShoppingfeedCronLockedException when another live run holds the lock
         */
        public function runCron(array $data = [], bool $lock = true)
        {
            if (!$lock) {
                return $this->processCron($data);
            }
            $file = $this->lockFile();
            if (!is_dir(dirname($file))) {
                mkdir(dirname($file), 0700, true);
            }
            $mutex = fopen($file . '.mutex', 'c');
            if ($mutex === false) {
                throw new RuntimeException('cannot open the lock ' . $file);
            }
            flock($mutex, LOCK_EX);
            $since = is_file($file) ? (int) file_get_contents($file) : 0;
            if ($since > 0 && time() - $since < self::LOCK_TTL) {
                flock($mutex, LOCK_UN);
                fclose($mutex);
                throw new ShoppingfeedCronLockedException(sprintf('another run holds the lock %s since %s UTC', $file, gmdate('Y-m-d H:i:s', $since)));
            }
            file_put_contents($file, (string) time());
            flock($mutex, LOCK_UN);
            fclose($mutex);
            try {
                return $this->processCron($data);
            } finally {
                @unlink($file);
            }
        }
    }
}
