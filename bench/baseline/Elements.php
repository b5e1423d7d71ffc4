<?php
/** The baseline's mapping: state => operation, snapshot => API element (the contract's table). */
function baseline_operation(int $state): ?string
{
    static $map = null;
    if ($map === null) {
        $map = [];
        foreach (['ship' => 'SHOPPINGFEED_SHIPPED_ORDERS', 'cancel' => 'SHOPPINGFEED_CANCELLED_ORDERS',
                  'refund' => 'SHOPPINGFEED_REFUNDED_ORDERS', 'deliver' => 'SHOPPINGFEED_DELIVERED_ORDERS'] as $op => $name) {
            $raw = class_exists('Configuration') ? Configuration::get($name, null, null, BENCH_SHOP) : false;
            if ($raw === false) {
                $raw = bench_settings()[$name];
            }
            foreach (json_decode((string) $raw, true) ?: [] as $s) {
                $map[(int) $s] = $op;
            }
        }
    }

    return $map[$state] ?? null;
}

function baseline_element(string $op, array $order): array
{
    $el = !empty($order['id_internal_shoppingfeed'])
        ? ['id' => (int) $order['id_internal_shoppingfeed']]
        : ['reference' => (string) $order['reference'], 'channelName' => (string) $order['marketplace']];
    switch ($op) {
        case 'ship':
            $el['carrier'] = (string) ($order['carrier'] ?? '');
            $el['trackingNumber'] = (string) ($order['tracking_number'] ?? '');
            $el['trackingLink'] = (string) ($order['tracking_url'] ?? '');
            break;
        case 'cancel':
            $el['reason'] = (string) ($order['reason'] ?? '');
            break;
        case 'refund':
            $el['refund'] = $order['refund'] ?? ['shipping' => true, 'products' => []];
            break;
    }

    return $el;
}
