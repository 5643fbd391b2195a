<?php
/**
 * Publishes an order shipped, as a Laravel app's broadcast(new
 * OrderShipped(…)) does: the event App\Events\OrderShipped, its payload
 * JSON, on the public channel `orders` and the private `private-orders` —
 * with push_send(), no HTTP request. From any PHP process of the host (a
 * php-fpm worker, a CLI script) while the engine runs:
 *
 *   php examples/pusher/publish.php 'order 7'
 *
 * With a second argument, a page's socket id (Echo's X-Socket-ID), that
 * page does not get it: Laravel's toOthers().
 */

function ship(string $text, ?string $exceptSocketId = null): void
{
    $options = ['event' => 'App\\Events\\OrderShipped'];
    if ($exceptSocketId !== null) {
        $options['except'] = $exceptSocketId;
    }
    $payload = json_encode(['order' => ['text' => $text]]);
    foreach (['orders', 'private-orders'] as $channel) {
        push_send($channel, $payload, $options);
    }
}

if (PHP_SAPI === 'cli' && realpath($_SERVER['SCRIPT_FILENAME'] ?? '') === __FILE__) {
    ship($argv[1] ?? 'an order', $argv[2] ?? null);
    echo "shipped\n";
}
