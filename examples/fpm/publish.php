<?php
/**
 * Publishing from any php-fpm worker: push_send() reaches the engine over
 * push.socket. POST a form (message, channel) or call with ?message=….
 */

$message = $_POST['message'] ?? $_GET['message'] ?? null;
$channel = $_POST['channel'] ?? $_GET['channel'] ?? 'news';

if ($message === null) {
    header('Content-Type: text/html; charset=utf-8');
    echo <<<'HTML'
        <!doctype html><meta charset="utf-8"><title>push — publish</title>
        <form method="post"><input name="channel" value="news"> <input name="message" autofocus> <button>Publish</button></form>
        HTML;
    exit;
}

header('Content-Type: application/json');
header('X-Worker-Pid: ' . getmypid()); // which php-fpm worker served this
try {
    echo json_encode(['id' => push_send($channel, $message)]);
} catch (ValueError $e) {
    http_response_code(400);
    echo json_encode(['error' => $e->getMessage()]);
} catch (Push\PushException $e) {
    http_response_code(503);
    echo json_encode(['error' => $e->getMessage(), 'class' => get_class($e)]);
}
