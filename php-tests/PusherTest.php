<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * The Pusher protocol with the real clients: pusher-js 8 (its node build)
 * and the node `pusher` server library (e2e/pusher.mjs, and
 * e2e/pusher-users.mjs for encrypted and cache channels and users) against
 * bin/push-server started with push.pusher_app_id, push.pusher_key and
 * push.pusher_secret.
 */
final class PusherTest extends PushTestCase
{
    private const ROOT = __DIR__ . '/..';
    /** push.pusher_encryption_master_key: the base64 of 32 bytes. */
    private const MASTER_KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

    /**
     * Runs a node script of e2e/ against a new bin/push-server with the
     * Pusher protocol on, and returns what it printed (one JSON object).
     *
     * @return array<string, mixed>
     */
    private function node(string $script, string ...$more): array
    {
        self::needNodeModules();
        [, , $address] = $this->daemon(null, [
            '--pusher_app_id=4242',
            '--pusher_key=app-key',
            '--pusher_secret=app-secret-0123',
            '--pusher_encryption_master_key=' . self::MASTER_KEY,
        ]);
        return $this->clientScript(['node', $script, $address, '4242', 'app-key', 'app-secret-0123', ...$more]);
    }

    private static function needNodeModules(): void
    {
        foreach (['pusher-js', 'pusher', 'laravel-echo'] as $package) {
            if (!is_dir(self::ROOT . "/e2e/node_modules/$package")) {
                self::fail("run (cd e2e && npm ci) first: $package is missing");
            }
        }
    }

    public function testPusherJsAndTheNodeServerLibrary(): void
    {
        $seen = $this->node('e2e/pusher.mjs');

        // An unknown key: told 4001, and pusher-js does not retry.
        self::assertSame(['code' => 4001, 'state' => 'disconnected'], $seen['unknownKey']);
        foreach ($seen['socketIds'] as $id) {
            self::assertMatchesRegularExpression('/^\d+\.\d+$/', $id);
        }
        // Presence: members as pusher-js keeps them.
        self::assertSame(1, $seen['presenceFirst']['count']);
        self::assertSame(['id' => '1', 'info' => ['name' => 'user 1']], $seen['presenceFirst']['me']);
        self::assertSame(['count' => 2, 'ids' => ['1', '2']], $seen['presenceSecond']);
        self::assertSame(['id' => '2', 'info' => ['name' => 'user 2']], $seen['memberAdded']);
        self::assertSame(['id' => '2', 'info' => ['name' => 'user 2']], $seen['memberRemoved']);
        self::assertSame(1, $seen['membersAfter']);
        // A wrong signature is refused with a status.
        self::assertSame(401, $seen['badSignature']['status']);
        self::assertSame('AuthError', $seen['badSignature']['type']);
        // The server library publishes; pusher-js decodes the data.
        self::assertSame(200, $seen['triggerStatus']);
        self::assertSame([['id' => 7], ['id' => 7]], $seen['triggered']);
        self::assertSame(['n' => 1], $seen['fromPush']);
        self::assertSame(['a' => [], 'b' => ['x']], $seen['toOthers']);
        // Whispers: to the others, not back; none on public channels.
        self::assertTrue($seen['whisperSent']);
        self::assertSame(['a' => [], 'b' => [['who' => 'a']]], $seen['whispers']);
        self::assertSame(0, $seen['publicClientEvent']['delivered']);
        self::assertStringContainsString('private and presence channels only', $seen['publicClientEvent']['error']);
        // The HTTP API's queries through the library.
        self::assertSame(['orders', 'presence-room', 'private-chat'], array_keys($seen['channels']['channels']));
        self::assertSame([['id' => '1'], ['id' => '2']], $seen['users']['users']);
        self::assertSame(['occupied' => true, 'subscription_count' => 2, 'user_count' => 2], $seen['channelInfo']);
    }

    public function testLaravelEcho(): void
    {
        $seen = $this->node('e2e/echo.mjs');

        // .listen('OrderShipped') (namespaced) and .listen('.App\\Events\\OrderShipped'),
        // from the server library and from push's own POST /publish.
        $orders = [['order' => ['id' => 1]], ['order' => ['id' => 2]]];
        self::assertSame($orders, $seen['shipped']['one']);
        self::assertSame([...$orders, ['order' => ['id' => 3]]], $seen['shipped']['two']);
        // toOthers(): not to the X-Socket-ID connection.
        self::assertSame(['one' => 2, 'two' => 3], $seen['afterToOthers']);
        // here(), joining(), leaving().
        $u1 = ['id' => 1, 'name' => 'user 1'];
        $u2 = ['id' => 2, 'name' => 'user 2'];
        self::assertSame([$u1], $seen['room']['hereFirst']);
        self::assertSame([$u1, $u2], $seen['room']['hereSecond']);
        self::assertSame([$u2], $seen['room']['joining']);
        self::assertSame([$u2], $seen['leaving']);
        // whisper() reaches the other, not the sender.
        self::assertSame(['one' => [], 'two' => [['name' => 'user 1']]], $seen['whispers']);
    }

    public function testEncryptedAndCacheChannelsAndUsers(): void
    {
        $seen = $this->node('e2e/pusher-users.mjs', self::MASTER_KEY);

        // Encrypted by the server library, relayed untouched, decrypted by pusher-js.
        self::assertSame([['text' => 'hello'], ['text' => 'hello']], $seen['decrypted']);
        // push_pusher_auth() derives the library's shared secret, byte for byte.
        $php = '<?php echo push_pusher_auth("1234.1234", "private-encrypted-room");';
        [$status, $out, $err] = self::php($php, ['-d', 'push.pusher_app_id=4242', '-d', 'push.pusher_key=app-key',
            '-d', 'push.pusher_secret=app-secret-0123', '-d', 'push.pusher_encryption_master_key="' . self::MASTER_KEY . '"']);
        self::assertSame(0, $status, $err);
        self::assertSame($seen['sharedSecret'], json_decode($out, true, 512, JSON_THROW_ON_ERROR)['shared_secret']);
        // A client event on an encrypted channel: refused, relayed to nobody.
        self::assertStringContainsString('encrypted', (string) $seen['encryptedClientEvent']['error']);
        self::assertSame(0, $seen['encryptedClientEvent']['relayed']);
        // Cache channels.
        self::assertSame(['n' => 2], $seen['cached']);
        self::assertTrue($seen['cacheMiss']);
        // Users: signed in, sendToUser to alice's two connections only.
        self::assertSame(['id' => 'alice', 'name' => 'user alice'], $seen['userData']);
        self::assertSame(['alice' => [['n' => 1]], 'aliceToo' => [['n' => 1]], 'bob' => []], $seen['notes']);
        self::assertSame(['code' => 4009, 'state' => 'disconnected'], $seen['badSignin']);
        // terminateUserConnections: alice's connections closed for good, bob's not.
        self::assertSame(200, $seen['terminateStatus']);
        self::assertSame([['code' => 4009, 'state' => 'disconnected'], ['code' => 4009, 'state' => 'disconnected']], $seen['terminated']);
        self::assertSame('connected', $seen['bobAfter']);
    }

    /**
     * Two engines sharing one redis-server, Laravel Echo on each
     * (e2e/pusher_cluster.mjs): here() lists both engines' members, an
     * event crosses engines, push_presence() answers the same on both, the
     * members of an engine killed with SIGKILL leave within
     * push.presence_ttl, and each webhook event is POSTed once for the
     * two, signed so that the node `pusher` library's and PyPI `pusher`'s
     * validators accept it.
     */
    public function testTwoEnginesOnRedisPresenceAndWebhooks(): void
    {
        self::needNodeModules();
        $python = self::ROOT . '/e2e/.venv/bin/python';
        if (!is_executable($python)) {
            self::fail('PyPI pusher is missing: run scripts/test.sh (it makes e2e/.venv)');
        }
        $redis = $this->redisServer();
        $hookPort = self::freePort();
        $settings = [
            '--pusher_app_id=4242',
            '--pusher_key=app-key',
            '--pusher_secret=app-secret-0123',
            "--broker=$redis",
            "--pusher_webhook_url=http://127.0.0.1:$hookPort/hooks",
            '--presence_ttl=1',
        ];
        [, $socketOne, $one] = $this->daemon(null, $settings);
        [$pidTwo, $socketTwo, $two] = $this->daemon(null, $settings);
        $proc = proc_open(
            ['node', 'e2e/pusher_cluster.mjs', $one, $two, '4242', 'app-key', 'app-secret-0123', (string) $hookPort],
            [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
            self::ROOT,
        );
        self::assertIsResource($proc);
        $this->watch('node e2e/pusher_cluster.mjs', $proc, [$pipes[2]]);
        $line = (string) fgets($pipes[1]);
        self::assertSame(['step' => 'joined'], json_decode($line, true), "node printed: $line");

        // push_presence() from a worker of either engine: both members.
        $u1 = ['id' => '1', 'info' => ['id' => 1, 'name' => 'user 1']];
        $u2 = ['id' => '2', 'info' => ['id' => 2, 'name' => 'user 2']];
        foreach ([$socketOne, $socketTwo] as $socket) {
            $out = self::worker($socket, <<<'PHP'
                $m = push_presence('presence-room');
                usort($m, fn ($a, $b) => $a['id'] <=> $b['id']);
                echo json_encode($m);
                PHP);
            self::assertSame([$u1, $u2], json_decode($out, true), $out);
        }
        // Engine two dies without a goodbye.
        posix_kill($pidTwo, SIGKILL);
        fwrite($pipes[0], "go\n");
        fclose($pipes[0]);
        $out = (string) stream_get_contents($pipes[1]);
        proc_close($proc);
        $seen = json_decode($out, true);
        self::assertIsArray($seen, "node printed: $out");
        self::assertArrayNotHasKey('failure', $seen, $seen['failure'] ?? '');

        $user = fn (int $id) => ['id' => $id, 'name' => "user $id"];
        self::assertSame([$user(1)], $seen['room']['hereA']);
        self::assertSame([$user(1), $user(2)], $seen['room']['hereB'], 'engine two lists engine one\'s member');
        self::assertSame([$user(2)], $seen['room']['joining']);
        self::assertSame([$user(2)], $seen['room']['leaving']);
        self::assertSame([['order' => ['id' => 9]]], $seen['acrossEngines']);
        // Within push.presence_ttl (1 s) and one refresh (a third of it),
        // with slack for a busy machine; not at once.
        self::assertLessThan(2500, $seen['leftAfterMs']);
        self::assertGreaterThan(300, $seen['leftAfterMs']);

        // Signed: every request valid for the node library, a changed body not.
        self::assertNotEmpty($seen['requests']);
        foreach ($seen['requests'] as $r) {
            self::assertTrue($r['valid'], $r['body']);
            self::assertSame('app-key', $r['key']);
            self::assertSame('application/json', $r['contentType']);
            self::assertSame(hash_hmac('sha256', $r['body'], 'app-secret-0123'), $r['signature']);
        }
        self::assertFalse($seen['tamperedValid']);

        // Once per cluster: each transition once, though both engines send.
        $count = fn (string $name, string $channel, ?string $user = null) => count(array_filter(
            $seen['events'],
            fn ($e) => $e['name'] === $name && $e['channel'] === $channel
                && ($user === null || $e['user_id'] === $user),
        ));
        self::assertSame(1, $count('channel_occupied', 'presence-room'), $out);
        self::assertSame(1, $count('member_added', 'presence-room', '1'), $out);
        self::assertSame(1, $count('member_added', 'presence-room', '2'), $out);
        self::assertSame(1, $count('member_removed', 'presence-room', '2'), $out);
        self::assertSame(1, $count('member_removed', 'presence-room', '1'), $out);
        self::assertSame(1, $count('channel_vacated', 'presence-room'), $out);
        self::assertSame(1, $count('channel_occupied', 'orders'), $out);
        self::assertSame(1, $count('channel_vacated', 'orders'), $out);
        self::assertCount(8, $seen['events'], $out);

        // PyPI's pusher accepts each request, and refuses a changed one.
        $requests = array_map(fn ($r) => ['key' => $r['key'], 'signature' => $r['signature'], 'body' => $r['body']], $seen['requests']);
        $tampered = $requests[0];
        $tampered['body'] = str_replace('"events"', '"events" ', $tampered['body']);
        $requests[] = $tampered;
        $input = tempnam(sys_get_temp_dir(), 'push-hooks');
        file_put_contents($input, json_encode($requests));
        [$status, $validated, $err] = self::command(
            ['sh', '-c', '"$0" "$1" 4242 app-key app-secret-0123 < "$2"', $python, self::ROOT . '/e2e/pusher_webhook.py', $input],
        );
        unlink($input);
        self::assertSame(0, $status, $err);
        $validated = json_decode($validated, true);
        self::assertCount(count($requests), $validated);
        self::assertNull(array_pop($validated), 'a changed body is refused');
        foreach ($validated as $i => $body) {
            self::assertIsArray($body, $requests[$i]['body']);
            self::assertSame(json_decode($requests[$i]['body'], true)['events'], $body['events']);
        }
    }

    public function testPushPresenceRefusesBadNamesAndNeedsAnEngine(): void
    {
        [$status, $out] = self::php(
            "<?php try { push_presence('presence-x'); } catch (Push\\ConnectionException \$e) { echo get_class(\$e), ': ', \$e->getMessage(); }",
            ['-d', 'push.socket=' . self::socketPath()],
        );
        self::assertSame(0, $status, $out);
        self::assertStringStartsWith('Push\\ConnectionException: push_presence(): ', $out);

        self::startEngine(['pusher_app_id' => '1', 'pusher_key' => 'k', 'pusher_secret' => 's']);
        self::assertSame([], push_presence('presence-nobody'));
        foreach (['orders', 'private-x', 'presence-a b', 'presence-' . str_repeat('a', 200), "presence-\xff"] as $bad) {
            try {
                push_presence($bad);
                self::fail("accepted $bad");
            } catch (\ValueError $e) {
                self::assertStringStartsWith('push_presence(): Argument #1 ($channel) must be a presence-', $e->getMessage());
            }
        }
    }
}
