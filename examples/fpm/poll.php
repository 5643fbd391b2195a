<?php
/**
 * Long-poll under php-fpm — the tutorial's loop
 *
 *     while (true) { $message = getMessage(); if ($message) { echo $message; flush(); break; } sleep(1); }
 *
 * with push_get_message(): the worker waits in the engine (no loop, no CPU)
 * and answers the moment a message is published. `since` (the last id the
 * browser saw) makes sure nothing published between two requests is
 * missed, whichever worker serves the next request.
 *
 *   GET poll.php?channel=news&since=ID  →  {"id","data","event","lost"} or null after 25 s
 */

header('Content-Type: application/json');
header('Cache-Control: no-store');

try {
    $message = push_get_message($_GET['channel'] ?? 'news', 25, ($_GET['since'] ?? '') ?: null);
} catch (ValueError $e) {
    http_response_code(400);
    exit(json_encode(['error' => $e->getMessage()]));
} catch (Push\PushException $e) {
    http_response_code(503);
    exit(json_encode(['error' => $e->getMessage()]));
}

echo json_encode($message === null ? null : [
    'id' => $message->id,
    'data' => $message->data,
    'event' => $message->event,
    'lost' => $message->lost,
]);
