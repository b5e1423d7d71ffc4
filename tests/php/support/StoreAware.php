<?php

/**
 * What the two suites' test cases share about the queue store of the run
 * (TestEnv::store(): sqlite or mysql): skipping a test that is about one
 * store only, and grepping outputs for the store's secrets.
 */
trait StoreAware
{
    /**
     * Skips the test unless the run's store is $store. $why says what the
     * test is about, so that the skip explains itself in PHPUnit's output.
     */
    protected function onlyOn(string $store, string $why): void
    {
        if (TestEnv::store() !== $store) {
            $this->markTestSkipped("$store only: $why");
        }
    }

    /**
     * Asserts that $text holds none of the store's secrets (the MySQL
     * password in mysql runs), beside the token checks each test makes.
     */
    protected function assertNoStoreSecret(string $text, string $what): void
    {
        foreach (TestEnv::storeSecrets() as $label => $secret) {
            $at = strpos($text, $secret);
            // Not assertStringNotContainsString: its failure would print the
            // whole text, secret included, into the test's output.
            $this->assertFalse($at !== false, $at === false ? '' : sprintf(
                '%s: %s leaked at byte %d of %d: ...%s...',
                $what,
                $label,
                $at,
                strlen($text),
                TestEnv::redact(substr($text, max(0, $at - 120), 240 + strlen($secret)))
            ));
        }
    }

    /**
     * Asserts that the first use created this test's queue: the SQLite file,
     * or the MySQL table (<prefix>shoppingfeed_order_sync_queue), alone in
     * its prefix.
     */
    protected function assertQueueCreated(string $what): void
    {
        if (TestEnv::isMysql()) {
            $queue = $this->storedQueue();
            $this->assertSame([$queue->table()], $queue->tables(), "$what: the queue table is created");
        } else {
            $this->assertFileExists($this->database, "$what: the queue file is created");
        }
    }

    /** A reader of this test's queue beside the extension (tests/php/support/Queue.php). */
    protected function storedQueue(): Queue
    {
        return new Queue($this->database);
    }
}
