<?php
/**
 * POST /broadcasting/auth — what pusher-js and Echo ask before subscribing
 * to a private or presence channel, answered with push_pusher_auth() (no
 * Pusher library): {"auth":"key:signature"}, with "channel_data" for a
 * presence channel. The process needs push.pusher_app_id, push.pusher_key
 * and push.pusher_secret in php.ini (or -d), the engine's values.
 *
 * Who the user is comes from your session; this example takes the page's
 * `user` parameter and lets in any lower-case name but "mallory".
 */

$user = (string) ($_POST['user'] ?? '');
$channel = (string) ($_POST['channel_name'] ?? '');
if (!preg_match('/^[a-z]{1,20}$/', $user) || $user === 'mallory') {
    http_response_code(403);
    exit;
}
$channelData = str_starts_with($channel, 'presence-')
    ? json_encode(['user_id' => $user, 'user_info' => ['name' => ucfirst($user)]])
    : null;
try {
    $answer = push_pusher_auth((string) ($_POST['socket_id'] ?? ''), $channel, $channelData);
} catch (ValueError $e) {
    http_response_code(400);
    echo $e->getMessage();
    exit;
}
header('Content-Type: application/json');
echo $answer;
