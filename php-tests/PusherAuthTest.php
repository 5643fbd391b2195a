<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * push_pusher_auth(): the answer of an app's /broadcasting/auth endpoint,
 * signed as Pusher's server libraries sign (checked against Pusher's own
 * documented example and against hash_hmac), from php.ini's settings in a
 * worker and from the engine's own in the engine process; and its
 * refusals. push_pusher_signin(): the answer of /broadcasting/user-auth,
 * byte for byte against hash_hmac, and its refusals.
 */
final class PusherAuthTest extends PushTestCase
{
    /** Pusher's documented example (library_auth_reference/auth-signatures). */
    private const KEY = '278d425bdf160c739803';
    private const SECRET = '7ad3773142a6692b25b8';

    /** @return list<string> php -d settings of the example app */
    private static function ini(): array
    {
        return ['-d', 'push.pusher_app_id=4242', '-d', 'push.pusher_key=' . self::KEY, '-d', 'push.pusher_secret=' . self::SECRET];
    }

    public function testAPrivateChannelIsSignedAsPusherDocumentsIt(): void
    {
        [$status, $out, $err] = self::php('<?php echo push_pusher_auth("1234.1234", "private-foobar");', self::ini());
        self::assertSame(0, $status, $err);
        self::assertSame('{"auth":"' . self::KEY . ':58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"}', $out);
    }

    public function testAPresenceChannelSignsItsChannelDataByteForByte(): void
    {
        $data = '{"user_id":10, "user_info":{"name":"Mr. Channels"}}';
        $code = '<?php echo push_pusher_auth("1234.1234", "presence-foobar", ' . var_export($data, true) . ');';
        [$status, $out, $err] = self::php($code, self::ini());
        self::assertSame(0, $status, $err);
        $answer = json_decode($out, true, 512, JSON_THROW_ON_ERROR);
        self::assertSame($data, $answer['channel_data'], 'the channel data as given, not re-encoded');
        $signature = hash_hmac('sha256', "1234.1234:presence-foobar:$data", self::SECRET);
        self::assertSame(self::KEY . ':' . $signature, $answer['auth']);
    }

    public function testTheEngineProcessSignsWithItsOwnSettings(): void
    {
        self::startEngine(['pusher_app_id' => '1', 'pusher_key' => 'engine-key', 'pusher_secret' => 'engine-secret-0123']);
        $answer = json_decode(push_pusher_auth('5.6', 'private-orders'), true, 512, JSON_THROW_ON_ERROR);
        self::assertSame('engine-key:' . hash_hmac('sha256', '5.6:private-orders', 'engine-secret-0123'), $answer['auth']);
    }

    /** @return iterable<string, array{string, string, ?string, string}> */
    public static function refusals(): iterable
    {
        yield 'socket id' => ['1234', 'private-a', null, 'Argument #1 ($socketId) must be a Pusher socket id'];
        yield 'socket id with letters' => ['1.a', 'private-a', null, 'Argument #1 ($socketId)'];
        yield 'public channel' => ['1.2', 'orders', null, 'Argument #2 ($channel) must be a private-'];
        yield 'bad character' => ['1.2', 'private-a b', null, 'Argument #2 ($channel)'];
        yield 'presence without data' => ['1.2', 'presence-a', null, 'Argument #3 ($channelData) must be a JSON object with a user_id'];
        yield 'presence without user_id' => ['1.2', 'presence-a', '{"name":"x"}', 'Argument #3 ($channelData)'];
        yield 'data on a private channel' => ['1.2', 'private-a', '{"user_id":1}', 'Argument #3 ($channelData) must be null'];
    }

    /** @dataProvider refusals */
    #[\PHPUnit\Framework\Attributes\DataProvider('refusals')]
    public function testBadArgumentsAreValueErrors(string $socket, string $channel, ?string $data, string $message): void
    {
        $code = '<?php try { push_pusher_auth(' . var_export($socket, true) . ', ' . var_export($channel, true) . ', ' . var_export($data, true) . '); }'
            . ' catch (\Throwable $e) { echo get_class($e), ": ", $e->getMessage(); }';
        [$status, $out] = self::php($code, self::ini());
        self::assertSame(0, $status);
        self::assertStringStartsWith('ValueError: push_pusher_auth(): ' . $message, $out);
    }

    public function testWithThePusherProtocolOffItSaysSo(): void
    {
        [$status, $out] = self::php('<?php try { push_pusher_auth("1.2", "private-a"); } catch (\Throwable $e) { echo get_class($e), ": ", $e->getMessage(); }');
        self::assertSame(0, $status);
        self::assertSame('Push\PushException: push_pusher_auth(): the Pusher protocol is off: set push.pusher_app_id, push.pusher_key and push.pusher_secret', $out);
    }

    public function testSigninSignsTheUserDataByteForByte(): void
    {
        $json = '{"id":"42", "name":"Ada \/ Lovelace"}';
        $code = '<?php echo push_pusher_signin("1234.1234", ' . var_export($json, true) . '), "\n",'
            . ' push_pusher_signin("1234.1234", ["id" => "42", "name" => "Ada / Lovelace", "watchlist" => ["7"]]);';
        [$status, $out, $err] = self::php($code, self::ini());
        self::assertSame(0, $status, $err);
        [$asString, $asArray] = explode("\n", $out);
        $answer = json_decode($asString, true, 512, JSON_THROW_ON_ERROR);
        self::assertSame(['auth', 'user_data'], array_keys($answer));
        self::assertSame($json, $answer['user_data'], 'the user data as given, not re-encoded');
        self::assertSame(self::KEY . ':' . hash_hmac('sha256', "1234.1234::user::$json", self::SECRET), $answer['auth']);
        // An array is encoded by json_encode(), as Pusher's PHP library does.
        $answer = json_decode($asArray, true, 512, JSON_THROW_ON_ERROR);
        $encoded = json_encode(['id' => '42', 'name' => 'Ada / Lovelace', 'watchlist' => ['7']]);
        self::assertSame($encoded, $answer['user_data']);
        self::assertSame(self::KEY . ':' . hash_hmac('sha256', "1234.1234::user::$encoded", self::SECRET), $answer['auth']);
    }

    /** @return iterable<string, array{string, string, string}> */
    public static function signinRefusals(): iterable
    {
        yield 'socket id' => ['"1234"', '["id" => "1"]', 'ValueError: push_pusher_signin(): Argument #1 ($socketId) must be a Pusher socket id'];
        yield 'no id' => ['"1.2"', '["name" => "x"]', 'ValueError: push_pusher_signin(): Argument #2 ($userData) must be a JSON object whose id'];
        yield 'id not a string' => ['"1.2"', '["id" => 7]', 'ValueError: push_pusher_signin(): Argument #2 ($userData)'];
        yield 'id with a space' => ['"1.2"', '["id" => "a b"]', 'ValueError: push_pusher_signin(): Argument #2 ($userData)'];
        yield 'not JSON' => ['"1.2"', '"{id: 1}"', 'ValueError: push_pusher_signin(): Argument #2 ($userData)'];
        yield 'a list' => ['"1.2"', '["1"]', 'ValueError: push_pusher_signin(): Argument #2 ($userData)'];
        yield 'not encodable' => ['"1.2"', '["id" => "1", "x" => "\xff"]', 'ValueError: push_pusher_signin(): Argument #2 ($userData) must be encodable as JSON'];
        yield 'an int' => ['"1.2"', '42', 'TypeError: push_pusher_signin(): Argument #2 ($userData) must be of type array|string, int given'];
    }

    /** @dataProvider signinRefusals */
    #[\PHPUnit\Framework\Attributes\DataProvider('signinRefusals')]
    public function testBadSigninArgumentsAreRefused(string $socket, string $data, string $message): void
    {
        $code = "<?php try { push_pusher_signin($socket, $data); } catch (\\Throwable \$e) { echo get_class(\$e), ': ', \$e->getMessage(); }";
        [$status, $out] = self::php($code, self::ini());
        self::assertSame(0, $status);
        self::assertStringStartsWith($message, $out);
    }

    public function testSigninWithThePusherProtocolOffSaysSo(): void
    {
        [$status, $out] = self::php('<?php try { push_pusher_signin("1.2", ["id" => "1"]); } catch (\Throwable $e) { echo get_class($e), ": ", $e->getMessage(); }');
        self::assertSame(0, $status);
        self::assertSame('Push\PushException: push_pusher_signin(): the Pusher protocol is off: set push.pusher_app_id, push.pusher_key and push.pusher_secret', $out);
    }

    public function testAnEncryptedChannelNeedsTheMasterKey(): void
    {
        $key = base64_encode(str_repeat("\x07", 32));
        $ini = [...self::ini(), '-d', 'push.pusher_encryption_master_key="' . $key . '"'];
        [$status, $out, $err] = self::php('<?php echo push_pusher_auth("1234.1234", "private-encrypted-foobar");', $ini);
        self::assertSame(0, $status, $err);
        $answer = json_decode($out, true, 512, JSON_THROW_ON_ERROR);
        self::assertSame(self::KEY . ':' . hash_hmac('sha256', '1234.1234:private-encrypted-foobar', self::SECRET), $answer['auth']);
        self::assertSame(base64_encode(hash('sha256', 'private-encrypted-foobar' . str_repeat("\x07", 32), true)), $answer['shared_secret']);

        [$status, $out] = self::php('<?php try { push_pusher_auth("1.2", "private-encrypted-a"); } catch (\Throwable $e) { echo get_class($e), ": ", $e->getMessage(); }', self::ini());
        self::assertSame(0, $status);
        self::assertStringStartsWith('Push\PushException: push_pusher_auth(): private-encrypted- channels need push.pusher_encryption_master_key', $out);
    }
}
