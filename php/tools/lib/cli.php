<?php
/**
 * What every command of php/tools/bin/sync-orders.php shares: the exit
 * codes, the option parser, the queue setting, output (human and JSON) that
 * never holds a secret, and the formatting of times and tables.
 *
 * The commands themselves live beside this file, one per file
 * (command_run.php, command_status.php, ...); each declares its options and
 * help as data (sync_orders_command_<name>()) and a handler.
 */

/** Done, and nothing needs attention. */
const SYNC_EXIT_OK = 0;
/**
 * Done, and something needs attention: run: a shop ended in error;
 * status, failed: the queue holds failed rows; show: the order has no
 * queue row. Lets a crontab line or a monitoring check act on the code.
 */
const SYNC_EXIT_ATTENTION = 1;
/** Kept for callers of the first version of this script (same value). */
const SYNC_EXIT_SHOP_ERROR = SYNC_EXIT_ATTENTION;
/** Bad command line: nothing was done. */
const SYNC_EXIT_USAGE = 2;
/** run: another run holds the process lock. */
const SYNC_EXIT_LOCKED = 3;
/** The extension is not loaded, a setting is refused or the queue cannot be used. */
const SYNC_EXIT_CONFIG = 4;

/** Options every command takes. */
const SYNC_COMMON_VALUED = ['database'];
const SYNC_COMMON_FLAGS = ['json', 'quiet', 'help'];
const SYNC_COMMON_SHORT = ['h' => 'help', 'q' => 'quiet'];

/** The exit codes as the help of every command lists them. */
function sync_orders_exit_help(): string
{
    return <<<'TXT'
Exit status:
  0  done, nothing needs attention
  1  done, something needs attention (run: a shop ended in error; status,
     failed: the queue holds failed rows; show: the order has no queue row)
  2  usage error (nothing was done)
  3  run: another run holds the process lock
  4  the extension is not loaded, a setting was refused, or the queue cannot be used

TXT;
}

/** The options every command takes, for its help. */
function sync_orders_common_help(): string
{
    return <<<'TXT'
  --database=PATH     the queue (INI shoppingfeed_sync.database): a SQLite file,
                      a mysql:// URL or "prestashop"; its password is never printed
  --json              print the result as JSON (stdout)
  -q, --quiet         print nothing (errors still go to stderr)
  -h, --help          this help

TXT;
}

/**
 * Parses the arguments after the command name.
 *
 * @param array{valued?: list<string>, flags?: list<string>, short?: array<string, string>, positional?: int} $spec
 *
 * @return array{0: array<string, list<string>|true>, 1: list<string>, 2: string|null} options, positional arguments, error
 */
function sync_orders_parse_args(array $args, array $spec): array
{
    $valued = array_merge(SYNC_COMMON_VALUED, $spec['valued'] ?? []);
    $flags = array_merge(SYNC_COMMON_FLAGS, $spec['flags'] ?? []);
    $short = array_merge(SYNC_COMMON_SHORT, $spec['short'] ?? []);
    $maxPositional = $spec['positional'] ?? 0;
    $opts = [];
    $positional = [];
    $count = count($args);
    for ($i = 0; $i < $count; $i++) {
        $arg = (string) $args[$i];
        if (preg_match('/^-([a-z])$/', $arg, $m) && isset($short[$m[1]])) {
            $opts[$short[$m[1]]] = true;
            continue;
        }
        if ($arg === '' || $arg[0] !== '-') {
            if (count($positional) >= $maxPositional) {
                return [$opts, $positional, 'unexpected argument: ' . $arg];
            }
            $positional[] = $arg;
            continue;
        }
        if (!preg_match('/^--([a-z][a-z-]*)(?:=(.*))?$/s', $arg, $m)) {
            return [$opts, $positional, 'unexpected argument: ' . $arg];
        }
        $name = $m[1];
        if (in_array($name, $flags, true)) {
            if (isset($m[2])) {
                return [$opts, $positional, '--' . $name . ' takes no value'];
            }
            $opts[$name] = true;
        } elseif (in_array($name, $valued, true)) {
            if (isset($m[2])) {
                $value = $m[2];
            } elseif ($i + 1 < $count) {
                $value = (string) $args[++$i];
            } else {
                return [$opts, $positional, '--' . $name . ' needs a value'];
            }
            $opts[$name][] = $value;
        } else {
            return [$opts, $positional, 'unknown option --' . $name];
        }
    }

    return [$opts, $positional, null];
}

/** The last value of a repeatable option, or null. */
function sync_orders_last(array $opts, string $name): ?string
{
    return isset($opts[$name]) && is_array($opts[$name]) ? (string) end($opts[$name]) : null;
}

/**
 * A positive id (shop, order) as given on the command line.
 *
 * @return int|null null when $text is not a positive decimal integer
 */
function sync_orders_positive_id(string $text): ?int
{
    if (!preg_match('/^[0-9]{1,18}$/', $text) || (int) $text <= 0) {
        return null;
    }

    return (int) $text;
}

/**
 * The shops of --shop (repeatable), validated.
 *
 * @return array{0: list<int>, 1: string|null} the ids (empty: none given), error
 */
function sync_orders_shops(array $opts): array
{
    $shops = [];
    foreach ($opts['shop'] ?? [] as $shop) {
        $id = sync_orders_positive_id((string) $shop);
        if ($id === null) {
            return [[], '--shop must be a positive shop id, got ' . $shop];
        }
        $shops[$id] = $id;
    }

    return [array_values($shops), null];
}

/**
 * Applies --database (before anything opens the queue).
 *
 * @return string|null an error message
 */
function sync_orders_apply_database(array $opts): ?string
{
    $database = sync_orders_last($opts, 'database');
    if ($database !== null && ini_set('shoppingfeed_sync.database', $database) === false) {
        return 'shoppingfeed_sync.database refused the value given with --database';
    }

    return null;
}

/**
 * The queue setting as it may be shown: a mysql:// URL loses its password
 * (everything between the user's ':' and the last '@' before the host, so
 * that a password holding an unencoded '@' is hidden whole).
 */
function sync_orders_database_label(?string $database = null): string
{
    $database = $database ?? (string) ini_get('shoppingfeed_sync.database');

    return (string) preg_replace('~^([a-z][a-z0-9+.-]*://[^:/@?#]*:)[^/?#]*@~i', '$1***@', $database);
}

/**
 * The secrets this process knows and no output may hold: the API token
 * (--token, or the environment) and the database password.
 *
 * @var list<string>
 */
$GLOBALS['sync_orders_secrets'] = [];

function sync_orders_add_secret(?string $secret): void
{
    // Short values would blank out ordinary words; a real token or password is longer.
    if ($secret !== null && strlen($secret) >= 4 && !in_array($secret, $GLOBALS['sync_orders_secrets'], true)) {
        $GLOBALS['sync_orders_secrets'][] = $secret;
    }
}

/** Registers the secrets found in the environment and in the queue setting. */
function sync_orders_collect_secrets(array $opts): void
{
    sync_orders_add_secret(sync_orders_last($opts, 'token'));
    $env = getenv('SHOPPINGFEED_AUTH_TOKEN');
    sync_orders_add_secret(is_string($env) ? $env : null);
    $database = (string) ini_get('shoppingfeed_sync.database');
    if (preg_match('~^[a-z][a-z0-9+.-]*://[^:/@?#]*:([^/?#]*)@~i', $database, $m)) {
        sync_orders_add_secret($m[1]);
        sync_orders_add_secret(rawurldecode($m[1]));
    }
}

/** A text with every known secret replaced (the last guard before output). */
function sync_orders_redact(string $text): string
{
    foreach ($GLOBALS['sync_orders_secrets'] as $secret) {
        $text = str_replace($secret, '***', $text);
    }

    return $text;
}

/** Prints to stdout, redacted. */
function sync_orders_print(string $text): void
{
    echo sync_orders_redact($text);
}

/** Prints an error line to stderr, redacted. */
function sync_orders_error(string $text): void
{
    fwrite(STDERR, sync_orders_redact('sync-orders: ' . rtrim($text, "\n") . "\n"));
}

/** Prints a value as pretty JSON on stdout, redacted. */
function sync_orders_print_json($value): void
{
    $json = json_encode($value, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
    sync_orders_print(($json === false ? 'null' : $json) . "\n");
}

/** Seconds as a person reads them: 45s, 5m 02s, 3h 10m, 2d 4h. */
function sync_orders_duration(?int $seconds): string
{
    if ($seconds === null) {
        return '-';
    }
    $seconds = max(0, $seconds);
    if ($seconds < 60) {
        return $seconds . 's';
    }
    if ($seconds < 3600) {
        return sprintf('%dm %02ds', intdiv($seconds, 60), $seconds % 60);
    }
    if ($seconds < 86400) {
        return sprintf('%dh %02dm', intdiv($seconds, 3600), intdiv($seconds % 3600, 60));
    }

    return sprintf('%dd %02dh', intdiv($seconds, 86400), intdiv($seconds % 86400, 3600));
}

/** One line of text, at most $max characters (messages can be long and hold newlines). */
function sync_orders_one_line(?string $text, int $max = 160): string
{
    $text = trim((string) preg_replace('/\s+/u', ' ', (string) $text));
    if ($text === '') {
        return '-';
    }
    if (function_exists('mb_strlen') ? mb_strlen($text) > $max : strlen($text) > $max) {
        $text = (function_exists('mb_substr') ? mb_substr($text, 0, $max - 3) : substr($text, 0, $max - 3)) . '...';
    }

    return $text;
}

/**
 * A text table: columns padded to their widest cell; $right names the
 * columns aligned right (numbers). The last column is never padded.
 *
 * @param list<string>       $header
 * @param list<list<string>> $rows
 * @param list<int>          $right
 */
function sync_orders_table(array $header, array $rows, array $right = []): string
{
    $widths = [];
    foreach (array_merge([$header], $rows) as $row) {
        foreach (array_values($row) as $i => $cell) {
            $widths[$i] = max($widths[$i] ?? 0, strlen((string) $cell));
        }
    }
    $out = '';
    $last = count($header) - 1;
    foreach (array_merge([$header], $rows) as $row) {
        $cells = [];
        foreach (array_values($row) as $i => $cell) {
            $cell = (string) $cell;
            if ($i === $last && !in_array($i, $right, true)) {
                $cells[] = $cell;
            } else {
                $cells[] = in_array($i, $right, true) ? str_pad($cell, $widths[$i], ' ', STR_PAD_LEFT) : str_pad($cell, $widths[$i]);
            }
        }
        $out .= rtrim(implode('  ', $cells)) . "\n";
    }

    return $out;
}

/** The message of a queue failure (an exception from the extension), for stderr. */
function sync_orders_failure(Throwable $e): string
{
    return get_class($e) . ': ' . $e->getMessage();
}
