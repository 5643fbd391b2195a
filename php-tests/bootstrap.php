<?php

declare(strict_types=1);

if (!extension_loaded('push')) {
    fwrite(STDERR, "The push extension is not loaded: run the tests with scripts/test.sh\n");
    exit(1);
}

require __DIR__ . '/PushTestCase.php';
