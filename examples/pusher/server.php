<?php
/**
 * Pusher protocol — Laravel Echo and pusher-js on the push engine, with no
 * Pusher service, Reverb or Soketi.
 *
 *   php examples/pusher/server.php
 *   php -d push.pusher_app_id=1234 -d push.pusher_key=app-key -d push.pusher_secret=app-secret \
 *       -S 127.0.0.1:8000 -t examples/pusher examples/pusher/router.php
 *   open http://127.0.0.1:8000/?user=alice and http://127.0.0.1:8000/?user=bob
 *
 * The engine speaks the Pusher protocol on push.listen (8080) with the app
 * below (PUSHER_APP_ID, PUSHER_APP_KEY, PUSHER_APP_SECRET override it); the
 * page server (router.php) answers /broadcasting/auth with
 * push_pusher_auth() and serves Echo and pusher-js from e2e/node_modules
 * (npm's builds: run `cd e2e && npm ci` once). Each line typed here is an
 * order shipped, published with push_send() as publish.php does from any
 * other PHP process. Ctrl-D or Ctrl-C stops it.
 */

$listen = getenv('PUSH_LISTEN') ?: '127.0.0.1:8080';
push_server_start([
    'listen' => $listen,
    'pusher_app_id' => getenv('PUSHER_APP_ID') ?: '1234',
    'pusher_key' => getenv('PUSHER_APP_KEY') ?: 'app-key',
    'pusher_secret' => getenv('PUSHER_APP_SECRET') ?: 'app-secret',
]);
fwrite(STDERR, 'Pusher engine on ws://' . push_stats()['listen'] . "/app/… — type a line to ship an order\n");

require __DIR__ . '/publish.php';
while (($line = fgets(STDIN)) !== false) {
    ship(rtrim($line, "\r\n"));
}
push_server_stop();
