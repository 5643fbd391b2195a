<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * The Pusher protocol with the real clients: pusher-js 8 (its node build)
 * and the node `pusher` server library (e2e/pusher.mjs) against
 * bin/push-server started with push.pusher_app_id, push.pusher_key and
 * push.pusher_secret.
 */
final class PusherTest extends PushTestCase
{
    private const ROOT = __DIR__ . '/..';

    public function testPusherJsAndTheNodeServerLibrary(): void
    {
        if (!is_dir(self::ROOT . '/e2e/node_modules/pusher-js') || !is_dir(self::ROOT . '/e2e/node_modules/pusher')) {
            self::fail('run (cd e2e && npm ci) first: pusher-js and pusher are missing');
        }
        [, , $address] = $this->daemon(null, [
            '--pusher_app_id=4242',
            '--pusher_key=app-key',
            '--pusher_secret=app-secret-0123',
        ]);
        $proc = proc_open(
            ['node', 'e2e/pusher.mjs', $address, '4242', 'app-key', 'app-secret-0123'],
            [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
            self::ROOT,
        );
        self::assertIsResource($proc);
        $this->watch('node e2e/pusher.mjs', $proc, [$pipes[2]]);
        $out = stream_get_contents($pipes[1]);
        $status = proc_close($proc);
        $seen = json_decode((string) $out, true);
        self::assertIsArray($seen, "node printed: $out");
        self::assertArrayNotHasKey('failure', $seen, $seen['failure'] ?? '');
        self::assertSame(0, $status);

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
}
