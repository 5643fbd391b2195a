<?php

// No strict_types here: these tests check PHP's weak-mode coercion.

namespace Push\Tests;

final class ArgumentsTest extends PushTestCase
{
    protected function setUp(): void
    {
        self::startEngine(['max_message_size' => '1K']);
    }

    public function testWeakModeCoercesLikeStrlen(): void
    {
        $id = push_send('c', 'x');
        push_send('c', 42);
        push_send('c', 1.5);
        push_send('c', true);
        push_send('c', new class {
            public function __toString(): string
            {
                return 'stringable';
            }
        });
        $got = [];
        while ($m = push_get_message('c', 0.1, $id)) {
            $got[] = $m->data;
            $id = $m->id;
        }
        self::assertSame(['42', '1.5', '1', 'stringable'], $got);
    }

    public function testStrictModeRefusesAnInt(): void
    {
        $call = require __DIR__ . '/fixtures/strict.php';
        $this->expectException(\TypeError::class);
        $this->expectExceptionMessage('push_send(): Argument #2 ($message) must be of type string, int given');
        $call();
    }

    /** @return iterable<string, array{callable, class-string, string}> */
    public static function badCalls(): iterable
    {
        yield 'array channel' => [fn () => push_send([], 'x'), \TypeError::class,
            'push_send(): Argument #1 ($channel) must be of type string, array given'];
        yield 'object message' => [fn () => push_send('c', new \stdClass()), \TypeError::class,
            'push_send(): Argument #2 ($message) must be of type string, stdClass given'];
        yield 'options not array' => [fn () => push_send('c', 'x', 'event'), \TypeError::class,
            'push_send(): Argument #3 ($options) must be of type array, string given'];
        yield 'too few' => [fn () => push_send('c'), \ArgumentCountError::class,
            'push_send() expects at least 2 arguments, 1 given'];
        yield 'too many' => [fn () => push_stats(1), \ArgumentCountError::class,
            'push_stats() expects exactly 0 arguments, 1 given'];
        yield 'channel with space' => [fn () => push_send('a b', 'x'), \ValueError::class,
            'push_send(): Argument #1 ($channel) must be 1 to 255 characters of A-Z a-z 0-9 _ . : @ / - = , ;'];
        yield 'empty channel' => [fn () => push_send('', 'x'), \ValueError::class, 'Argument #1 ($channel)'];
        yield 'channel with NUL' => [fn () => push_send("a\0b", 'x'), \ValueError::class, 'Argument #1 ($channel)'];
        yield 'channel not UTF-8' => [fn () => push_send("\xff", 'x'), \ValueError::class, 'Argument #1 ($channel)'];
        yield 'channel too long' => [fn () => push_send(str_repeat('c', 256), 'x'), \ValueError::class, 'Argument #1 ($channel)'];
        yield 'message too large' => [fn () => push_send('c', str_repeat('x', 1025)), \ValueError::class,
            'push_send(): Argument #2 ($message) must be at most 1024 bytes (push.max_message_size), 1025 given'];
        yield 'unknown option' => [fn () => push_send('c', 'x', ['evnt' => 'a']), \ValueError::class,
            'push_send(): Argument #3 ($options) has unknown key "evnt" (known: event, binary, except)'];
        yield 'int option key' => [fn () => push_send('c', 'x', ['a']), \ValueError::class,
            'push_send(): Argument #3 ($options) must have string keys, 0 given'];
        yield 'event with newline' => [fn () => push_send('c', 'x', ['event' => "a\nb"]), \ValueError::class,
            'push_send(): Argument #3 ($options) ["event"] must be 1 to 200 bytes without line breaks'];
        yield 'event array' => [fn () => push_send('c', 'x', ['event' => []]), \TypeError::class,
            'push_send(): Argument #3 ($options) ["event"] must be of type string|int|float|bool, array given'];
        yield 'negative timeout' => [fn () => push_get_message('c', -1), \ValueError::class,
            'push_get_message(): Argument #2 ($timeout) must be between 0 and 86400'];
        yield 'NAN timeout' => [fn () => push_get_message('c', NAN), \ValueError::class, 'Argument #2 ($timeout)'];
        yield 'huge timeout' => [fn () => push_get_message('c', 1e12), \ValueError::class, 'Argument #2 ($timeout)'];
        yield 'timeout string' => [fn () => push_get_message('c', 'soon'), \TypeError::class,
            'push_get_message(): Argument #2 ($timeout) must be of type float, string given'];
        yield 'bad last id' => [fn () => push_get_message('c', 1, 'nope'), \ValueError::class,
            'push_get_message(): Argument #3 ($lastId) must be a message id returned by push (such as Push\Message::$id)'];
        yield 'last id with NUL' => [fn () => push_get_message('c', 1, "1-1\0"), \ValueError::class, 'Argument #3 ($lastId)'];
        yield 'bad channel on get' => [fn () => push_get_message('*', 1), \ValueError::class, 'Argument #1 ($channel)'];
        yield 'unknown server option' => [fn () => push_server_start(['nope' => 1]), \ValueError::class,
            'push_server_start(): Argument #1 ($options) has unknown key "nope"'];
        yield 'bad server option' => [fn () => push_server_start(['history' => 'lots']), \ValueError::class,
            'push_server_start(): Argument #1 ($options) invalid value "lots" for push.history'];
    }

    /** @dataProvider badCalls */
    #[\PHPUnit\Framework\Attributes\DataProvider('badCalls')]
    public function testBadArgumentsRaisePhpErrors(callable $call, string $class, string $message): void
    {
        try {
            $call();
            self::fail("expected $class");
        } catch (\Throwable $e) {
            self::assertInstanceOf($class, $e, $e->getMessage());
            self::assertStringContainsString($message, $e->getMessage());
        }
        // Nothing else was disturbed.
        $id = push_send('after', 'ok');
        self::assertSame($id, push_get_message('after', 1, explode('-', $id)[0] . '-0')->id);
    }

    public function testNullInWeakModeIsDeprecatedLikeForBuiltins(): void
    {
        [$code, $out, $err] = self::php('<?php push_server_start(["listen" => "127.0.0.1:0"]); echo push_send("c", null) !== "" ? "ok" : "";', ['-d', 'error_reporting=-1', '-d', 'display_errors=stderr']);
        self::assertSame(0, $code, $err);
        self::assertSame('ok', $out);
        self::assertStringContainsString('Deprecated: push_send(): Passing null to parameter #2 ($message) of type string is deprecated', $err);
    }
}
