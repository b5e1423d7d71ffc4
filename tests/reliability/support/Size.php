<?php
/**
 * The suite's size: RELIABILITY_SIZE=quick (CI, the default) or full (by hand).
 */
final class Size
{
    public static function name(): string
    {
        return getenv('RELIABILITY_SIZE') === 'full' ? 'full' : 'quick';
    }

    public static function full(): bool
    {
        return self::name() === 'full';
    }

    /**
     * @template T
     * @param T $quick
     * @param T $full
     * @return T
     */
    public static function pick($quick, $full)
    {
        return self::full() ? $full : $quick;
    }
}
