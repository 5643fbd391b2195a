<?php

declare(strict_types=1);

namespace Push\Tests;

/** push_token(): tokens minted in PHP open private channels of an engine, and are standard JWTs. */
final class TokenTest extends PushTestCase
{
    private const SECRET = 'php-test-secret-0123456789abcdef';

    private static function privateEngine(): string
    {
        return self::startEngine([
            'secret' => self::SECRET,
            'private_channels' => 'private.*',
            'keepalive' => 30,
        ]);
    }

    private static function b64url(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }

    /** A JWT made the way any library makes one: PHP's hash_hmac, nothing of push. */
    private static function handMade(array $header, array $claims, string $secret): string
    {
        $signed = self::b64url(json_encode($header)) . '.' . self::b64url(json_encode($claims));
        return $signed . '.' . self::b64url(hash_hmac('sha256', $signed, $secret, true));
    }

    /** GET with extra headers; returns [status, body]. */
    private static function get(string $addr, string $path, string $headers = ''): array
    {
        $ctx = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => 5, 'header' => $headers]]);
        $body = @file_get_contents("http://$addr$path", false, $ctx);
        self::assertNotFalse($body, "GET http://$addr$path failed");
        preg_match('#^HTTP/\S+ (\d+)#', $http_response_header[0] ?? '', $m);
        return [(int) ($m[1] ?? 0), $body];
    }

    public function testAPhpTokenOpensAPrivateLongPollAndSseStream(): void
    {
        $addr = self::privateEngine();
        $token = push_token(['private.*'], 60);
        $first = push_send('private.room', 'one');
        $second = push_send('private.room', 'two');
        [$status, $body] = self::get($addr, "/poll/private.room?since=$first&timeout=0&token=$token");
        self::assertSame(200, $status, $body);
        self::assertSame(['two'], array_column(json_decode($body, true)['messages'], 'data'));
        [$status, $body] = self::get($addr, "/poll/private.room?since=$first&timeout=0", "Authorization: Bearer $token\r\n");
        self::assertSame(200, $status, $body);

        // SSE with the token in the cookie; HTTP/1.0 gives a plain stream.
        $ctx = stream_context_create(['http' => [
            'timeout' => 5,
            'protocol_version' => 1.0,
            'header' => "Cookie: push_token=$token\r\nLast-Event-ID: $first\r\n",
        ]]);
        $stream = fopen("http://$addr/sse/private.room", 'r', false, $ctx);
        self::assertIsResource($stream);
        self::assertSame("retry: 2000\n", fgets($stream));
        self::assertSame("\n", fgets($stream));
        self::assertSame("id: $second\n", fgets($stream));
        self::assertSame("data: two\n", fgets($stream));
        fclose($stream);
    }

    public function testTheEngineRefusesWhatThePrivateChannelWasNotGranted(): void
    {
        $addr = self::privateEngine();
        [$status, $body] = self::get($addr, '/poll/private.room?timeout=0');
        self::assertSame(401, $status);
        self::assertStringContainsString('a token is required', $body);
        $wrong = push_token(['private.*'], 60, ['secret' => str_repeat('w', 32)]);
        [$status, $body] = self::get($addr, "/poll/private.room?timeout=0&token=$wrong");
        self::assertSame(401, $status);
        self::assertStringContainsString('signature does not match', $body);
        $other = push_token(['private.other', 'private.room.*'], 60);
        [$status, $body] = self::get($addr, "/poll/private.room?timeout=0&token=$other");
        self::assertSame(403, $status);
        self::assertStringContainsString('does not grant channel', $body);
        [$status] = self::get($addr, '/poll/public?timeout=0');
        self::assertSame(200, $status, 'public channels need no token');
    }

    public function testTheTokenIsAStandardJwtThatHashHmacVerifies(): void
    {
        $before = time();
        $token = push_token(['news', 'user.42.*'], 600, ['secret' => self::SECRET]);
        $after = time();
        [$h, $p, $s] = explode('.', $token);
        self::assertSame('{"alg":"HS256","typ":"JWT"}', base64_decode(strtr($h, '-_', '+/')));
        self::assertSame(self::b64url(hash_hmac('sha256', "$h.$p", self::SECRET, true)), $s);
        $claims = json_decode(base64_decode(strtr($p, '-_', '+/')), true, 512, JSON_THROW_ON_ERROR);
        self::assertSame(['news', 'user.42.*'], $claims['channels']);
        self::assertFalse($claims['publish']);
        self::assertSame(600, $claims['exp'] - $claims['iat']);
        self::assertGreaterThanOrEqual($before, $claims['iat']);
        self::assertLessThanOrEqual($after, $claims['iat']);
        self::assertEqualsCanonicalizing(['channels', 'exp', 'iat', 'publish'], array_keys($claims));

        $writer = push_token(['room'], 60, ['secret' => self::SECRET, 'publish' => true]);
        $claims = json_decode(base64_decode(strtr(explode('.', $writer)[1], '-_', '+/')), true);
        self::assertTrue($claims['publish']);
    }

    public function testAHandMadeJwtOpensAPrivateChannelAndAlgNoneDoesNot(): void
    {
        $addr = self::privateEngine();
        $first = push_send('private.inbox', 'one');
        push_send('private.inbox', 'two');
        $claims = ['sub' => '42', 'exp' => time() + 60, 'channels' => ['private.inbox']];
        $jwt = self::handMade(['typ' => 'JWT', 'alg' => 'HS256'], $claims, self::SECRET);
        [$status, $body] = self::get($addr, "/poll/private.inbox?since=$first&timeout=0&token=$jwt");
        self::assertSame(200, $status, $body);
        self::assertSame(['two'], array_column(json_decode($body, true)['messages'], 'data'));
        $none = self::b64url('{"alg":"none","typ":"JWT"}') . '.' . self::b64url(json_encode($claims)) . '.';
        [$status, $body] = self::get($addr, "/poll/private.inbox?timeout=0&token=$none");
        self::assertSame(401, $status);
        self::assertStringContainsString('must be HS256', $body);
        $expired = self::handMade(['alg' => 'HS256'], ['exp' => time() - 60] + $claims, self::SECRET);
        [$status, $body] = self::get($addr, "/poll/private.inbox?timeout=0&token=$expired");
        self::assertSame(401, $status);
        self::assertStringContainsString('expired', $body);
    }

    public function testTheSecretComesFromPushSecret(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            echo push_token(['news']);
            PHP, ['-d', 'push.secret=' . self::SECRET]);
        self::assertSame(0, $code, $err);
        [$h, $p, $s] = explode('.', $out);
        self::assertSame(self::b64url(hash_hmac('sha256', "$h.$p", self::SECRET, true)), $s);
        $claims = json_decode(base64_decode(strtr($p, '-_', '+/')), true);
        self::assertSame(3600, $claims['exp'] - $claims['iat'], 'the default ttl');

        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            try { push_token(['news']); } catch (Push\PushException $e) { echo $e->getMessage(); }
            PHP, ['-d', 'push.secret=tooshort']);
        self::assertSame(0, $code, $err);
        self::assertStringStartsWith('push_token(): invalid value "(hidden)" for push.secret: must be at least 32 bytes', $out);
        self::assertStringNotContainsString('tooshort', $out, 'the secret is never echoed');
    }

    /** @return iterable<string, array{callable, class-string, string}> */
    public static function wrongArguments(): iterable
    {
        $s = ['secret' => self::SECRET];
        yield 'no secret' => [static fn () => push_token(['a']), \Push\PushException::class,
            "push_token(): push.secret is not set: set it in php.ini (the engine's key, at least 32 bytes) or pass \$options['secret']"];
        yield 'empty list' => [static fn () => push_token([], 60, $s), \ValueError::class,
            'push_token(): Argument #1 ($channels) must not be empty'];
        yield 'bad name' => [static fn () => push_token(['ok', 'a b'], 60, $s), \ValueError::class,
            'push_token(): Argument #1 ($channels) must hold channel names or prefixes ending in * (1 to 255 characters of A-Z a-z 0-9 _ . : @ / - = , ;), "a b" given'];
        yield 'star alone' => [static fn () => push_token(['*'], 60, $s), \ValueError::class,
            'push_token(): Argument #1 ($channels) must hold channel names or prefixes ending in * (1 to 255 characters of A-Z a-z 0-9 _ . : @ / - = , ;), "*" given'];
        yield 'star inside' => [static fn () => push_token(['a*b'], 60, $s), \ValueError::class,
            'push_token(): Argument #1 ($channels) must hold channel names or prefixes ending in * (1 to 255 characters of A-Z a-z 0-9 _ . : @ / - = , ;), "a*b" given'];
        yield 'int element' => [static fn () => push_token(['a', 42], 60, $s), \TypeError::class,
            'push_token(): Argument #1 ($channels) must be an array of strings, int given'];
        yield 'object element' => [static fn () => push_token([new \stdClass()], 60, $s), \TypeError::class,
            'push_token(): Argument #1 ($channels) must be an array of strings, stdClass given'];
        yield 'ttl 0' => [static fn () => push_token(['a'], 0, $s), \ValueError::class,
            'push_token(): Argument #2 ($ttl) must be between 1 and 315360000'];
        yield 'ttl negative' => [static fn () => push_token(['a'], -5, $s), \ValueError::class,
            'push_token(): Argument #2 ($ttl) must be between 1 and 315360000'];
        yield 'short secret' => [static fn () => push_token(['a'], 60, ['secret' => 'short']), \ValueError::class,
            'push_token(): Argument #3 ($options) ["secret"] must be at least 32 bytes (an HS256 key of 256 bits; for example the output of `openssl rand -hex 32`)'];
        yield 'unknown option' => [static fn () => push_token(['a'], 60, ['ttl' => 5] + $s), \ValueError::class,
            'push_token(): Argument #3 ($options) has unknown key "ttl" (known: secret, publish)'];
        yield 'not an array' => [static fn () => push_token('a'), \TypeError::class,
            'push_token(): Argument #1 ($channels) must be of type array, string given'];
        yield 'too large' => [static fn () => push_token(array_map(static fn ($i) => "channel.number.$i.of.many", range(1, 200)), 60, $s),
            \ValueError::class, 'more than push.max_token_size (4096 bytes)'];
    }

    /** @dataProvider wrongArguments */
    #[\PHPUnit\Framework\Attributes\DataProvider('wrongArguments')]
    public function testWrongArgumentsAreRefused(callable $call, string $class, string $message): void
    {
        try {
            $call();
            self::fail('no exception');
        } catch (\Throwable $e) {
            self::assertSame($class, get_class($e), $e->getMessage());
            self::assertStringContainsString($message, $e->getMessage());
        }
    }

    public function testStrictTypesAreHonoured(): void
    {
        $this->expectException(\TypeError::class);
        $this->expectExceptionMessage('push_token(): Argument #2 ($ttl) must be of type int, string given');
        push_token(['a'], '60', ['secret' => self::SECRET]);
    }
}
