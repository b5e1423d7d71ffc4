<?php
/**
 * Test double of classlib's ProcessLoggerHandler, as the Shopping Feed
 * module ships it (namespace ShoppingfeedClasslib\Extensions\ProcessLogger;
 * classlib 2.x, the module's vendor/totpsclasslib): the class behind the
 * module's "Logs & crons" page. Written from its public static API:
 *
 * - openLogger($process = null): remembers the process monitor of the
 *   running cron (or none) and erases old logs;
 * - addLog($msg, $objectModel = null, $objectId = null, $name = null,
 *   $level = 'info'): keeps one line in memory; every 100 lines they are
 *   written (saveLogsInDb);
 * - logInfo / logError / logSuccess / logDeprecated($msg, $objectModel =
 *   null, $objectId = null, $name = 'default'): addLog with that level; the
 *   process's getProcessName() replaces $name when a process was given;
 * - closeLogger($msg = null): with a process and a message, logs that
 *   message as info first; then writes the lines (saveLogsInDb).
 *
 * Lines written land in $saved (the table shoppingfeed_processlogger);
 * lines never written (no closeLogger) stay in $pending, which is what a
 * test must catch. No database, no hook: what the real class adds around
 * these calls is not what the cron controller relies on.
 *
 * Not loaded by the bootstrap (the suite's other tests expect PrestaShop's
 * logger to be the one present): tests/php/fixtures/cron-log-child.php
 * loads it in a process of its own.
 */

namespace ShoppingfeedClasslib\Extensions\ProcessLogger;

class ProcessLoggerHandler
{
    /** @var object|null */
    private static $process;
    /** @var list<array{name: string, msg: string, level: string, object_name: mixed, object_id: int}> lines not written yet */
    public static $pending = [];
    /** @var list<array{name: string, msg: string, level: string, object_name: mixed, object_id: int}> lines written */
    public static $saved = [];
    /** @var int */
    public static $opened = 0;
    /** @var int */
    public static $closed = 0;
    /** @var \Throwable|null thrown by the next openLogger() (a database down), then cleared */
    public static $failOpen;

    public static function reset(): void
    {
        self::$process = null;
        self::$pending = [];
        self::$saved = [];
        self::$opened = 0;
        self::$closed = 0;
        self::$failOpen = null;
    }

    public static function openLogger($process = null)
    {
        if (self::$failOpen !== null) {
            $e = self::$failOpen;
            self::$failOpen = null;

            throw $e;
        }
        self::$process = $process;
        self::$opened++;
    }

    public static function closeLogger($msg = null)
    {
        if (self::$process !== null && !empty($msg)) {
            self::logInfo($msg, self::$process->getProcessObjectModelName(), self::$process->getProcessObjectModelId());
        }
        self::saveLogsInDb();
        self::$closed++;
    }

    public static function addLog($msg, $objectModel = null, $objectId = null, $name = null, $level = 'info')
    {
        self::$pending[] = [
            'name' => (string) $name,
            'msg' => (string) $msg,
            'level' => (string) $level,
            'object_name' => $objectModel,
            'object_id' => (int) $objectId,
        ];
        if (count(self::$pending) === 100) {
            self::saveLogsInDb();
        }
    }

    public static function logSuccess($msg, $objectModel = null, $objectId = null, $name = 'default')
    {
        self::addLog($msg, $objectModel, $objectId, self::nameFor($name), 'success');
    }

    public static function logError($msg, $objectModel = null, $objectId = null, $name = 'default')
    {
        self::addLog($msg, $objectModel, $objectId, self::nameFor($name), 'error');
    }

    public static function logInfo($msg, $objectModel = null, $objectId = null, $name = 'default')
    {
        self::addLog($msg, $objectModel, $objectId, self::nameFor($name), 'info');
    }

    public static function logDeprecated($msg, $objectModel = null, $objectId = null, $name = 'default')
    {
        self::addLog($msg, $objectModel, $objectId, self::nameFor($name), 'deprecated');
    }

    public static function saveLogsInDb()
    {
        self::$saved = array_merge(self::$saved, self::$pending);
        self::$pending = [];

        return true;
    }

    private static function nameFor($name)
    {
        return self::$process !== null ? (string) self::$process->getProcessName() : (string) $name;
    }
}
