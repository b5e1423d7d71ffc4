<?php
/**
 * Exercises the PrestaShop stand-ins against the real MariaDB of
 * scripts/mariadb.sh (env SHOPPINGFEED_TEST_MYSQL_URL). Plain PHP: prints
 * "ok ..." lines and exits 1 at the first mismatch.
 *
 *   . "$(scripts/mariadb.sh env)" && php tests/prestashop/selftest.php
 */
require __DIR__ . '/bootstrap.php';

$checks = 0;
function check($what, $expected, $actual)
{
    global $checks;
    if ($expected !== $actual) {
        fwrite(STDERR, "FAIL $what\n  expected: " . var_export($expected, true) . "\n  actual:   " . var_export($actual, true) . "\n");
        exit(1);
    }
    ++$checks;
    echo "ok   $what\n";
}

$db = Db::getInstance();
check('schema created under ' . _DB_PREFIX_, 22, count($db->executeS("SHOW TABLES LIKE '" . str_replace('_', '\\_', _DB_PREFIX_) . "%'")));

// Db
$db->insert('module', ['name' => "o'brien", 'active' => 0, 'version' => '1']);
$id = $db->Insert_ID();
check('Db insert/Insert_ID/getValue with a quote', "o'brien", $db->getValue('SELECT name FROM ' . _DB_PREFIX_ . 'module WHERE id_module = ' . $id));
$db->update('module', ['version' => '2'], 'id_module = ' . $id);
check('Db update/getRow', ['version' => '2'], $db->getRow('SELECT version FROM ' . _DB_PREFIX_ . 'module WHERE id_module = ' . $id));
$db->delete('module', 'id_module = ' . $id);
check('Db delete/getValue on no row', false, $db->getValue('SELECT name FROM ' . _DB_PREFIX_ . 'module WHERE id_module = ' . $id));
check('Db executeS on no row', [], $db->executeS('SELECT * FROM ' . _DB_PREFIX_ . 'module'));

// Configuration: shop, then group, then global
$shop1 = ShopFixture::shop('Shop one', 1);
$shop2 = ShopFixture::shop('Shop two', 1);
$shop3 = ShopFixture::shop('Shop three', 2);
check('Configuration missing key', false, Configuration::get('SF_TEST'));
check('Configuration missing key, default', 'd', Configuration::get('SF_TEST', null, null, $shop1, 'd'));
Configuration::updateValue('SF_TEST', 'global');
Configuration::updateValue('SF_TEST', 'group2', false, 2);
Configuration::updateValue('SF_TEST', 'shop1', false, null, $shop1);
check('Configuration per shop', 'shop1', Configuration::get('SF_TEST', null, null, $shop1));
check('Configuration falls back to global (group 1 has none)', 'global', Configuration::get('SF_TEST', null, null, $shop2));
check('Configuration falls back to the shop group', 'group2', Configuration::get('SF_TEST', null, null, $shop3));
check('Configuration global', 'global', Configuration::get('SF_TEST'));
Configuration::updateValue('SF_TEST', 'shop1b', false, null, $shop1);
check('Configuration updateValue updates in place', 3, (int) $db->getValue('SELECT COUNT(*) FROM ' . _DB_PREFIX_ . "configuration WHERE name = 'SF_TEST'"));
Configuration::updateValue('SF_INT', 5);
check('Configuration values are strings', '5', Configuration::get('SF_INT'));
Configuration::updateGlobalValue('SF_JSON', json_encode([4, 5]));
check('Configuration JSON list (module state lists)', [4, 5], json_decode(Configuration::get('SF_JSON', null, null, $shop1)));
Configuration::deleteByName('SF_TEST');
check('Configuration deleteByName', false, Configuration::get('SF_TEST', null, null, $shop1));

// Module + override + Hook registration
Module::$modulesDir = __DIR__ . '/fixtures/modules';
Module::$overrideDir = __DIR__ . '/fixtures/override';
$module = Module::getInstanceByName('sfrecorder');
check('Module::getInstanceByName uses the override class', 'SfrecorderOverride', get_class($module));
check('Module::getInstanceByName caches', true, $module === Module::getInstanceByName('sfrecorder'));
check('Module::getInstanceByName unknown module', false, Module::getInstanceByName('nosuchmodule'));
$module->install();
check('Module::getModuleIdByName', true, $module->id > 0 && $module->id === Module::getModuleIdByName('sfrecorder'));
check('registerHook', true, $module->registerHook(['actionOrderStatusPostUpdate', 'actionObjectOrderCarrierUpdateAfter', 'actionOrderSlipAdd']));
$module->registerHook('actionOrderStatusPostUpdate');
check('hook_module rows (no duplicate)', 3, (int) $db->getValue('SELECT COUNT(*) FROM ' . _DB_PREFIX_ . 'hook_module WHERE id_module = ' . $module->id));
check('Hook::exec arrayReturn keyed by module name', ['sfrecorder' => 'override'],
    Hook::exec('actionOrderStatusPostUpdate', ['x' => 1], null, true));
check('Hook::exec string return', 'override', Hook::exec('actionOrderStatusPostUpdate', []));
check('Hook::exec for another module id', [], Hook::exec('actionOrderStatusPostUpdate', [], $module->id + 100, true));
check('Hook::exec unknown hook', [], Hook::exec('actionNothing', [], null, true));
Sfrecorder::$calls = [];

// ObjectModel, Order, OrderState, order state change
$shipped = ShopFixture::orderState('Shipped', ['shipped' => 1, 'invoice' => 1, 'paid' => 1]);
$paid = ShopFixture::orderState('Payment accepted', ['paid' => 1, 'invoice' => 1]);
$carrierId = ShopFixture::carrier('Colissimo', 'https://track.example/?n=@');
$token = ShopFixture::token($shop1, 'tok-' . bin2hex(random_bytes(4)), 1234);
$imp = ShopFixture::importedOrder($token, ['id_shop' => $shop1, 'id_carrier' => $carrierId, 'state' => $paid,
    'products' => [['product_id' => 7, 'product_attribute_id' => 3, 'product_reference' => 'REF7', 'product_quantity' => 2]]]);
$order = new Order($imp['id_order']);
check('Order loaded (Validate::isLoadedObject)', true, Validate::isLoadedObject($order));
check('Order unknown id not loaded', false, Validate::isLoadedObject(new Order(999999)));
check('Order current state', $paid, $order->getCurrentState());
check('Order id_shop', $shop1, (int) $order->id_shop);
$state = new OrderState($shipped, 1);
check('OrderState flags and name', ['1', '1', '1', 'Shipped'], [$state->shipped, $state->invoice, $state->paid, $state->name]);
check('shoppingfeed_order row links token', $token, (int) $db->getValue('SELECT id_shoppingfeed_token FROM ' . _DB_PREFIX_
    . 'shoppingfeed_order WHERE id_order = ' . $order->id));
check('shoppingfeed_token store id', '1234', $db->getValue('SELECT shoppingfeed_store_id FROM ' . _DB_PREFIX_
    . 'shoppingfeed_token WHERE id_shoppingfeed_token = ' . $token));

$history = new OrderHistory();
$history->id_order = $order->id;
$history->changeIdOrderState($shipped, $order->id);
$history->add();
check('state change fires actionOrderStatusPostUpdate once', 1, count(Sfrecorder::$calls));
[$hookName, $params] = Sfrecorder::$calls[0];
check('hook params: newOrderStatus OrderState', [$hookName, 'OrderState', $shipped, $order->id],
    [$hookName, get_class($params['newOrderStatus']), (int) $params['newOrderStatus']->id, $params['id_order']]);
check('orders.current_state updated', $shipped, (new Order($order->id))->getCurrentState());
check('order_history row written', [['id_order_state' => (string) $shipped, 'id_employee' => '0']],
    $db->executeS('SELECT id_order_state, id_employee FROM ' . _DB_PREFIX_ . 'order_history WHERE id_order = ' . $order->id));
Sfrecorder::$calls = [];

// OrderCarrier, Carrier
$oc = new OrderCarrier($order->getIdOrderCarrier());
check('Order::getIdOrderCarrier', $imp['id_order_carrier'], $oc->id);
$oc->tracking_number = 'TRK123';
$oc->update();
check('OrderCarrier update fires its hook with the object', ['actionObjectOrderCarrierUpdateAfter', 'TRK123'],
    [Sfrecorder::$calls[0][0] ?? null, Sfrecorder::$calls[0][1]['object']->tracking_number ?? null]);
check('tracking number stored', 'TRK123', (new OrderCarrier($oc->id))->tracking_number);
$carrier = new Carrier((int) $oc->id_carrier);
check('Carrier name and url', ['Colissimo', 'https://track.example/?n=@'], [$carrier->name, $carrier->url]);
Sfrecorder::$calls = [];

// OrderSlip
$slip = OrderSlip::create($order, [$imp['id_order_details'][0] => 1], true);
check('actionOrderSlipAdd fired with the Order', ['actionOrderSlipAdd', $order->id, [$imp['id_order_details'][0] => 1]],
    [Sfrecorder::$calls[0][0] ?? null, Sfrecorder::$calls[0][1]['order']->id ?? null, Sfrecorder::$calls[0][1]['qtyList'] ?? null]);
$lines = $slip->getProducts();
check('slip detail joined to order_detail', ['7', '3', 'REF7', '1'],
    [$lines[0]['product_id'], $lines[0]['product_attribute_id'], $lines[0]['product_reference'], $lines[0]['product_quantity']]);
check('Order::getOrderSlipsCollection', [$slip->id], array_map(function ($s) { return $s->id; }, $order->getOrderSlipsCollection()));

// OrderInvoice, generic ObjectModel add/update/delete
$inv = new OrderInvoice();
$inv->id_order = $order->id;
$inv->number = 42;
$inv->add();
check('OrderInvoice add + Order::getInvoicesCollection', [42], array_map(function ($i) { return (int) $i->number; }, $order->getInvoicesCollection()));
$inv->delete();
check('ObjectModel delete', false, Validate::isLoadedObject(new OrderInvoice($inv->id)));

// PrestaShopLogger, Translate, Tools
PrestaShopLogger::addLog('[sf] hello', 3, null, 'Order', $order->id);
check('PrestaShopLogger::addLog', ['3', '[sf] hello', 'Order', (string) $order->id],
    array_values($db->getRow('SELECT severity, message, object_type, object_id FROM ' . _DB_PREFIX_ . 'log')));
check('Translate::getModuleTranslation', 'Hello', Translate::getModuleTranslation('shoppingfeed', 'Hello', 'x'));
$_GET['controller'] = 'syncOrder';
check('Tools::getValue / ucfirst', ['syncOrder', false, 'Abc'], [Tools::getValue('controller'), Tools::getValue('nope'), Tools::ucfirst('abc')]);

// pSQL, DbQuery, Configuration::set (memory only), Shop, Mail, PDF
check('pSQL / bqSQL', ["o\\'b", 'a\`b'], [pSQL("o'b"), bqSQL('a`b')]);
$q = (new DbQuery())->select('id_shop')->from('shop', 's')->where('s.id_shop > 0')->where('s.active = 1')->orderBy('id_shop DESC')->limit(2);
check('DbQuery builds prefixed SQL', [['id_shop' => (string) $shop3], ['id_shop' => (string) $shop2]], $db->executeS($q));
Configuration::updateValue('SF_MEM', 'db');
Configuration::set('SF_MEM', 'memory');
check('Configuration::set overrides for this process only', ['memory', 'db'],
    [Configuration::get('SF_MEM'), $db->getValue('SELECT value FROM ' . _DB_PREFIX_ . "configuration WHERE name = 'SF_MEM'")]);
Configuration::clearMemory();
check('Configuration::clearMemory', 'db', Configuration::get('SF_MEM'));
check('Shop::getShops as ids', [$shop1 => $shop1, $shop2 => $shop2, $shop3 => $shop3], Shop::getShops(true, null, true));
check('Context shop', 1, Context::getContext()->shop->id);
Mail::Send(1, 'tpl', 'Subject', ['{a}' => 'b'], 'x@example.com');
check('Mail::Send records', ['tpl', 'x@example.com'], [Mail::$sent[0]['template'], Mail::$sent[0]['to']]);
check('PDF stand-in names the invoice', true, strpos((new PDF([$order], PDF::TEMPLATE_INVOICE))->render(false), 'Order ' . $order->id) !== false);

echo "selftest: $checks checks passed\n";
