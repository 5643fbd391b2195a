<?php
/**
 * Server-Sent Events under php-fpm — the tutorial's stream.php
 *
 *     while (true) { $message = getMessage(); if ($message) { echo "data: $message "; } ob_flush(); flush(); sleep(1); }
 *
 * with push_get_message(): no sleep, no polling; each event carries its
 * id, so a browser that reconnects (sending Last-Event-ID) gets everything
 * it missed. It still holds one php-fpm worker per open page — the
 * technique's own cost; the engine's /sse/{channel} holds none.
 */

header('Content-Type: text/event-stream');
header('Cache-Control: no-cache');
header('X-Accel-Buffering: no');
set_time_limit(0);
// Send each event now: no PHP output buffer (php.ini's output_buffering)
// in front of flush().
while (ob_get_level() > 0) {
    ob_end_flush();
}

$channel = $_GET['channel'] ?? 'news';
$last = ($_SERVER['HTTP_LAST_EVENT_ID'] ?? '') ?: null;
echo "retry: 2000\n\n";
flush();

while (!connection_aborted()) {
    try {
        $message = push_get_message($channel, 15, $last);
    } catch (Push\PushException $e) {
        echo "event: push-error\ndata: ", json_encode($e->getMessage()), "\n\n";
        break;
    }
    if ($message === null) {
        echo ": keep-alive\n\n";           // also how a closed connection is noticed
    } else {
        if ($message->lost) {
            echo "event: push-lost\ndata: {}\n\n";
        }
        echo "id: {$message->id}\n";
        echo 'data: ', str_replace("\n", "\ndata: ", $message->data), "\n\n";
        $last = $message->id;
    }
    flush();
}
