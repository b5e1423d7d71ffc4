<?php
/** Loads every PrestaShop stand-in of this folder, in dependency order (no database connection: Db::connect() does that). */
foreach (['functions', 'Db', 'DbQuery', 'Configuration', 'Validate', 'Tools', 'Translate', 'PrestaShopLogger', 'ObjectModel',
    'Hook', 'Module', 'Shop', 'Context', 'Order', 'OrderState', 'OrderHistory', 'Carrier', 'OrderCarrier', 'OrderInvoice',
    'OrderSlip', 'Mail', 'PDF', 'Controller', 'Dispatcher'] as $sftestDouble) {
    require_once __DIR__ . '/' . $sftestDouble . '.php';
}
unset($sftestDouble);
