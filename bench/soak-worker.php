<?php
// One short-lived worker process of bench/soak.sh: for $argv[1] seconds it
// publishes on soak-php through push.socket and reads each message back;
// prints "ok N" or its first error.
$until = microtime(true) + (float) ($argv[1] ?? 5);
$n = 0;
try {
    while (microtime(true) < $until) {
        $id = push_send('soak-php', "php $n");
        [$epoch, $offset] = explode('-', $id);
        $m = push_get_message('soak-php', 5, $epoch . '-' . ((int) $offset - 1));
        if ($m === null || $m->id !== $id || $m->data !== "php $n") {
            throw new RuntimeException('got back ' . var_export($m?->id, true) . " for $id");
        }
        $n++;
        usleep(2000);
    }
    echo "ok $n\n";
} catch (Throwable $e) {
    echo 'error: ', get_class($e), ': ', $e->getMessage(), "\n";
    exit(1);
}
