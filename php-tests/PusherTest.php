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
        foreach (['pusher-js', 'pusher', 'laravel-echo'] as $package) {
            if (!is_dir(self::ROOT . "/e2e/node_modules/$package")) {
                self::fail("run (cd e2e && npm ci) first: $package is missing");
            }
        }
        [, , $address] = $this->daemon(null, [
            '--pusher_app_id=4242',
            '--pusher_key=app-key',
            '--pusher_secret=app-secret-0123',
            '--pusher_encryption_master_key=' . self::MASTER_KEY,
        ]);
        return $this->clientScript(['node', $script, $address, '4242', 'app-key', 'app-secret-0123', ...$more]);
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
}
