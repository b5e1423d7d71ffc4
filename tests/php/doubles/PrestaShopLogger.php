<?php
/**
 * Test double of PrestaShop's PrestaShopLogger: addLog() records its arguments.
 */
class PrestaShopLogger
{
    /** @var list<array{message: string, severity: int, object_type: mixed, object_id: mixed}> */
    public static $logs = [];

    public static function reset(): void
    {
        self::$logs = [];
    }

    public static function addLog(
        $message,
        $severity = 1,
        $errorCode = null,
        $objectType = null,
        $objectId = null,
        $allowDuplicate = false,
        $idEmployee = null
    ): bool {
        self::$logs[] = [
            'message' => (string) $message,
            'severity' => (int) $severity,
            'object_type' => $objectType,
            'object_id' => $objectId,
        ];

        return true;
    }

    /** All logged messages, one string (for "contains"/"does not contain" assertions). */
    public static function text(): string
    {
        return implode("\n", array_column(self::$logs, 'message'));
    }
}
