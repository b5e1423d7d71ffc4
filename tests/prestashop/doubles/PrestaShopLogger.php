<?php
/** Stand-in for PrestaShop's PrestaShopLogger: addLog() writes a row of the `log` table. */
class PrestaShopLogger
{
    public static function addLog($message, $severity = 1, $errorCode = null, $objectType = null, $objectId = null, $allowDuplicate = false, $idEmployee = null)
    {
        $now = date('Y-m-d H:i:s');

        return Db::getInstance()->insert('log', ['severity' => (int) $severity, 'error_code' => $errorCode === null ? null : (int) $errorCode,
            'message' => (string) $message, 'object_type' => $objectType, 'object_id' => $objectId === null ? null : (int) $objectId,
            'id_employee' => $idEmployee, 'date_add' => $now, 'date_upd' => $now]);
    }
}
