<?php
/**
 * The page: it announces the hub with the discovery Link header
 * (push_mercure_link()), and with ?user=alice it gives the browser a
 * subscriber token in the mercureAuthorization cookie, signed as any PHP
 * app can (hash_hmac; symfony/mercure's Authorization does the same).
 */

$config = require __DIR__ . '/config.php';
header('Link: ' . push_mercure_link());

$user = ($_GET['user'] ?? '') === 'alice' ? 'alice' : null;
if ($user !== null) {
    $b64 = static fn (string $s): string => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
    $claims = ['exp' => time() + 3600, 'mercure' => ['subscribe' => ["https://example.com/users/$user"]]];
    $signed = $b64('{"alg":"HS256","typ":"JWT"}') . '.' . $b64(json_encode($claims));
    $jwt = $signed . '.' . $b64(hash_hmac('sha256', $signed, $config['subscriber_key'], true));
    // Cookies are per host, not per port: it reaches the hub on this host.
    setcookie('mercureAuthorization', $jwt, [
        'path' => '/.well-known/mercure',
        'httponly' => true,
        'samesite' => 'Strict',
    ]);
}
?>
<!doctype html>
<meta charset="utf-8">
<title>push — Mercure</title>
<style>body{font:16px system-ui;margin:2em;max-width:40em}</style>
<h1>Mercure<?= $user ? ' — ' . htmlspecialchars($user) : '' ?></h1>
<p id="status">connecting…</p>
<ul id="log"></ul>
<script>
// Discovery as the Mercure spec has it: the hub's URL from this page's
// Link header; then a plain EventSource. The browser reconnects by itself
// with Last-Event-ID, so updates published meanwhile arrive.
const credentials = <?= $user ? 'true' : 'false' ?>;
const log = document.getElementById('log');
fetch(location.href, { method: 'HEAD' }).then((r) => {
  const hub = /<([^>]+)>;\s*rel="mercure"/.exec(r.headers.get('Link'))[1];
  const url = new URL(hub);
  url.searchParams.append('topic', 'https://example.com/news');
  url.searchParams.append('topic', 'https://example.com/users/{user}');
  const source = new EventSource(url, { withCredentials: credentials });
  source.addEventListener('open', () => { document.getElementById('status').textContent = 'connected'; });
  source.addEventListener('error', () => { document.getElementById('status').textContent = 'reconnecting…'; });
  source.addEventListener('message', (event) => {
    const li = document.createElement('li');
    li.className = 'message';
    li.textContent = event.data;
    log.append(li);
  });
  source.addEventListener('push-lost', () => {
    log.insertAdjacentHTML('beforeend', '<li class="lost">(some updates were missed)</li>');
  });
});
</script>
