<?php
/**
 * WebSocket chat — the tutorial's WebSocketServer (socket_select(), no
 * handshake), replaced by the push engine.
 *
 *   php examples/chat/server.php      (page: php -S 127.0.0.1:8000 -t examples/chat)
 *
 * Browsers connect with `new WebSocket('ws://localhost:8080')`; everything a
 * client sends is published on the "chat" channel and reaches every client,
 * the sender included. Every line typed here is announced to the room by
 * PHP with push_send(). Ctrl-D or Ctrl-C stops it.
 */

$listen = getenv('PUSH_LISTEN') ?: '127.0.0.1:8080';
push_server_start([
    'listen' => $listen,
    'default_channel' => 'chat',   // what ws://host:port/ subscribes to
    'client_publish' => 'chat',    // clients may publish there, nowhere else
]);
fwrite(STDERR, 'chat engine on ws://' . push_stats()['listen'] . "/ — type a line to announce it\n");

while (($line = fgets(STDIN)) !== false) {
    push_send('chat', 'server: ' . rtrim($line, "\r\n"));
}
push_server_stop();
