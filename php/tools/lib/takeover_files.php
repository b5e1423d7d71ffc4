<?php
/**
 * shoppingfeed-takeover.php: the files the takeover places in a shop, and
 * the manifest that lets `remove` take exactly those away again.
 *
 * Sources (this repository, or a release with the same layout):
 *   php/module/**    -> <root>/modules/shoppingfeed/**  (our classes beside the module's)
 *   php/override/**  -> <root>/override/**              (PrestaShop's overrides)
 *
 * The manifest (<root>/modules/shoppingfeed/shoppingfeed_sync_takeover.json)
 * lists each placed file (path from the root, sha256 as placed), the
 * folders the install created and the hooks it registered. A file counts as
 * ours when the manifest lists it with the same hash, or when it is byte for
 * byte the file we would place; anything else at one of our paths (a
 * merchant's own override, a file of the module) is never overwritten.
 */

const TAKEOVER_MANIFEST = 'modules/shoppingfeed/shoppingfeed_sync_takeover.json';

/** @return string the php/ folder of this repository or release */
function takeover_source_dir()
{
    return dirname(__DIR__, 2);
}

/**
 * Every file to place: path from the shop root => source file.
 *
 * @return array<string, string>
 */
function takeover_planned_files()
{
    $src = takeover_source_dir();
    $out = [];
    foreach (['module' => 'modules/shoppingfeed', 'override' => 'override'] as $from => $to) {
        $base = $src . '/' . $from;
        $it = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($base, FilesystemIterator::SKIP_DOTS));
        foreach ($it as $file) {
            if (!$file->isFile()) {
                continue;
            }
            $rel = substr($file->getPathname(), strlen($base) + 1);
            $out[$to . '/' . str_replace(DIRECTORY_SEPARATOR, '/', $rel)] = $file->getPathname();
        }
    }
    ksort($out);

    return $out;
}

/** @return array{files: array<string, string>, dirs: string[], hooks: string[], version: string|null}|null */
function takeover_read_manifest($root)
{
    $file = $root . '/' . TAKEOVER_MANIFEST;
    if (!is_file($file)) {
        return null;
    }
    $data = json_decode((string) file_get_contents($file), true);
    if (!is_array($data)) {
        return null;
    }

    return [
        'files' => isset($data['files']) && is_array($data['files']) ? $data['files'] : [],
        'dirs' => isset($data['dirs']) && is_array($data['dirs']) ? $data['dirs'] : [],
        'hooks' => isset($data['hooks']) && is_array($data['hooks']) ? $data['hooks'] : [],
        'version' => isset($data['version']) ? (string) $data['version'] : null,
    ];
}

function takeover_write_manifest($root, array $manifest)
{
    ksort($manifest['files']);
    $manifest['dirs'] = array_values(array_unique($manifest['dirs']));
    $manifest['hooks'] = array_values(array_unique($manifest['hooks']));
    $json = json_encode([
        'what' => 'Files placed by shoppingfeed-takeover.php install (shoppingfeed_sync); `remove` takes them away.',
        'version' => $manifest['version'],
        'files' => $manifest['files'],
        'dirs' => $manifest['dirs'],
        'hooks' => $manifest['hooks'],
    ], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n";
    $file = $root . '/' . TAKEOVER_MANIFEST;
    if (is_file($file) && file_get_contents($file) === $json) {
        return false;
    }
    if (file_put_contents($file, $json) === false) {
        throw new RuntimeException('could not write ' . TAKEOVER_MANIFEST);
    }

    return true;
}

/**
 * What install would do with each file: 'place' (absent), 'same' (already
 * our file, identical), 'update' (our older file, unchanged since placed),
 * 'foreign' (not ours: never overwritten), 'changed' (ours, edited since:
 * overwritten only with --force).
 *
 * @return array<string, string> path => one of those
 */
function takeover_plan($root, $manifest)
{
    $known = $manifest !== null ? $manifest['files'] : [];
    $plan = [];
    foreach (takeover_planned_files() as $rel => $source) {
        $target = $root . '/' . $rel;
        if (!file_exists($target)) {
            $plan[$rel] = 'place';
            continue;
        }
        $hash = is_file($target) ? hash_file('sha256', $target) : null;
        if ($hash !== null && $hash === hash_file('sha256', $source)) {
            $plan[$rel] = 'same';
        } elseif ($hash !== null && isset($known[$rel]) && $known[$rel] === $hash) {
            $plan[$rel] = 'update';
        } elseif (isset($known[$rel])) {
            $plan[$rel] = 'changed';
        } else {
            $plan[$rel] = 'foreign';
        }
    }

    return $plan;
}

/**
 * Copies one file, creating its folders; adds the folders it created to $dirs.
 */
function takeover_place($root, $rel, $source, array &$dirs)
{
    $missing = [];
    for ($dir = dirname($rel); $dir !== '.' && $dir !== '' && !is_dir($root . '/' . $dir); $dir = dirname($dir)) {
        $missing[] = $dir;
    }
    foreach (array_reverse($missing) as $dir) {
        if (!@mkdir($root . '/' . $dir, 0755) && !is_dir($root . '/' . $dir)) {
            throw new RuntimeException('could not create ' . $dir . '/');
        }
        $dirs[] = $dir;
    }
    $tmp = $root . '/' . $rel . '.sfsync-tmp';
    if (!@copy($source, $tmp) || !@rename($tmp, $root . '/' . $rel)) {
        @unlink($tmp);
        throw new RuntimeException('could not write ' . $rel);
    }
}

/** Removes the folders the install created, deepest first, when empty; returns those removed. */
function takeover_remove_dirs($root, array $dirs)
{
    usort($dirs, static function ($a, $b) {
        return substr_count($b, '/') - substr_count($a, '/');
    });
    $removed = [];
    foreach ($dirs as $dir) {
        $path = $root . '/' . $dir;
        if (is_dir($path) && count(scandir($path)) === 2 && @rmdir($path)) {
            $removed[] = $dir;
        }
    }

    return $removed;
}
