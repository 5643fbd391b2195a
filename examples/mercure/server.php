<?php
/**
 * A Mercure hub on push, fed from PHP with mercure_publish() (FrankenPHP's
 * function: symfony/mercure's FrankenPhpHub uses it).
 *
 *   php examples/mercure/server.php      (page: php -S 127.0.0.1:8000 -t examples/mercure)
 *
 * Every line typed here is published as a public update of
 * https://example.com/news; a line "private TEXT" as a private update of
 * https://example.com/users/alice, which only a subscriber whose token
 * grants that topic gets (the page's ?user=alice sets that cookie).
 */

$config = require __DIR__ . '/config.php';
push_server_start([
    'listen' => $config['listen'],
    'mercure' => 'On',
    'mercure_anonymous' => 'On',
    'mercure_publisher_key' => $config['publisher_key'],
    'mercure_subscriber_key' => $config['subscriber_key'],
    // Credentials (the mercureAuthorization cookie) only from this origin.
    'allowed_origins' => $config['origin'],
]);
fwrite(STDERR, 'Mercure engine on http://' . push_stats()['listen'] . "/.well-known/mercure — type a line to publish it\n");

while (($line = fgets(STDIN)) !== false) {
    $line = rtrim($line, "\r\n");
    if (str_starts_with($line, 'private ')) {
        mercure_publish('https://example.com/users/alice', substr($line, 8), private: true);
    } else {
        mercure_publish('https://example.com/news', $line);
    }
}
push_server_stop();
