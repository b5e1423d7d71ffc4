<?php
/**
 * The figures of the run (what was tried, how often, what was lost, the
 * duplicates, memory), one JSON object a line in $RELIABILITY_FIGURES;
 * tests/reliability/support/summary.php prints them as a table, and
 * docs/RELIABILITY.md quotes them.
 */
final class Figures
{
    public static function file(): ?string
    {
        $file = getenv('RELIABILITY_FIGURES');

        return is_string($file) && $file !== '' ? $file : null;
    }

    /**
     * @param string $area  fault | crash | concurrency | hostile | fpm | security | memory
     * @param string $what  the scenario
     * @param array  $data  numbers (tries, orders, lost, duplicates, ...)
     */
    public static function record(string $area, string $what, array $data): void
    {
        $file = self::file();
        if ($file === null) {
            return;
        }
        $line = json_encode(['size' => Size::name(), 'store' => TestEnv::store(), 'area' => $area, 'what' => $what] + $data, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PARTIAL_OUTPUT_ON_ERROR);
        file_put_contents($file, $line . "\n", FILE_APPEND | LOCK_EX);
    }
}
