<?php
/**
 * Long-poll — the tutorial's `while (true) { getMessage(); sleep(1); }`
 * loop, replaced by the engine's /poll endpoint: a request answers the
 * moment a message is published (or after its timeout), holds no PHP
 * process, and its cursor makes sure nothing is missed between requests.
 *
 *   php examples/longpoll/server.php  (page: php -S 127.0.0.1:8000 -t examples/longpoll)
 *
 * Every line typed here is published on "news" with push_send().
 */

$listen = getenv('PUSH_LISTEN') ?: '127.0.0.1:8080';
push_server_start(['listen' => $listen]);
fwrite(STDERR, 'long-poll engine on http://' . push_stats()['listen'] . "/poll/news — type a line to publish it\n");

while (($line = fgets(STDIN)) !== false) {
    push_send('news', rtrim($line, "\r\n"));
}
push_server_stop();
