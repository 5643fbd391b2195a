<?php
/**
 * What the engine (server.php) and the page (index.php) share: in a real
 * deployment, php.ini's push.mercure_* lines, read by both. Environment
 * variables override the defaults (php-tests/BrowserTest.php sets them).
 * The hub's URL the page announces is push.listen's, or
 * push.mercure_public_url of the page's php.ini when a proxy stands in
 * front (php -d push.mercure_public_url=https://…/.well-known/mercure -S …).
 */

return [
    // The engine's push.listen.
    'listen' => getenv('PUSH_LISTEN') ?: '127.0.0.1:8080',
    // The page's origin, allowed to send the cookie (push.allowed_origins).
    'origin' => getenv('PAGE_ORIGIN') ?: 'http://127.0.0.1:8000',
    // HS256 keys of at least 32 bytes: change both.
    'publisher_key' => getenv('MERCURE_PUBLISHER_KEY') ?: 'change-me-publisher-key-of-32-bytes-or-more',
    'subscriber_key' => getenv('MERCURE_SUBSCRIBER_KEY') ?: 'change-me-subscriber-key-of-32-bytes-or-more',
];
