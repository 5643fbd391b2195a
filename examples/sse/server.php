<?php
/**
 * Server-Sent Events — the tutorial's stream.php (`while (true) { echo
 * "data: $message"; flush(); sleep(1); }`, one PHP process per browser),
 * replaced by the engine's /sse endpoint: messages arrive the moment they
 * are published, and a browser that reconnects resumes from its
 * Last-Event-ID with nothing lost.
 *
 *   php examples/sse/server.php       (page: php -S 127.0.0.1:8000 -t examples/sse)
 *
 * Every line typed here is published on "news" with push_send().
 */

$listen = getenv('PUSH_LISTEN') ?: '127.0.0.1:8080';
push_server_start(['listen' => $listen]);
fwrite(STDERR, 'SSE engine on http://' . push_stats()['listen'] . "/sse/news — type a line to publish it\n");

while (($line = fgets(STDIN)) !== false) {
    push_send('news', rtrim($line, "\r\n"));
}
push_server_stop();
