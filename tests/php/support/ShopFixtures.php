<?php

/**
 * The test shop's conveyors and order snapshots, shared by the contract
 * suite (SyncTestCase) and the reliability suite (ReliabilityTestCase). The
 * using class provides settings() and the TOKEN / STORE_ID constants.
 */
trait ShopFixtures
{
    /** A conveyor for shop 1 with the sandbox's credentials; $extra replaces keys (null removes one). */
    protected function conveyor(array $extra = [], array $settings = []): array
    {
        $conveyor = [
            'id_shop' => 1,
            'order_action' => ShoppingfeedOrderSyncQueue::ACTION_SYNC_STATUS,
            'token' => Sandbox::TOKEN,
            'shoppingfeed_store_id' => Sandbox::STORE_ID,
            'settings' => $this->settings($settings),
        ];
        foreach ($extra as $key => $value) {
            if ($value === null) {
                unset($conveyor[$key]);
            } else {
                $conveyor[$key] = $value;
            }
        }

        return $conveyor;
    }

    /** A snapshot named by Shopping Feed's internal id, with shipment data (state 4: shipped). */
    protected function snapshot(int $internalId, int $state = 4, array $extra = []): array
    {
        return array_replace([
            'id_internal_shoppingfeed' => $internalId,
            'id_order_state' => $state,
            'carrier' => 'Colissimo',
            'tracking_number' => 'TRK' . $internalId,
            'tracking_url' => 'https://track.example/?n=TRK' . $internalId,
        ], $extra);
    }

    abstract protected function settings(array $overrides = []): array;
}
