<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * No PHP value reaches a Rust panic, and values are read as PHP's own
 * functions read them: references dereferenced, booleans parsed alike.
 */
final class PhpValuesTest extends PushTestCase
{
    /** Runs $code in a fresh PHP with an engine; returns its output (stderr must stay empty). */
    private static function withEngine(string $code): string
    {
        [$status, $out, $err] = self::php("<?php\npush_server_start(['listen' => '127.0.0.1:0']);\n$code");
        self::assertSame(0, $status, "$out\n$err");
        self::assertSame('', $err, 'nothing on stderr (no Rust panic backtrace)');
        return $out;
    }

    public function testANonUtf8KeyInTheChannelList(): void
    {
        $out = self::withEngine(<<<'PHP'
            $t = push_token(["\xff" => 'a', 'b'], 60, ['secret' => 'an-hs256-key-of-at-least-32-bytes!!']);
            $claims = json_decode(base64_decode(strtr(explode('.', $t)[1], '-_', '+/')), true);
            echo json_encode($claims['channels']);
            PHP);
        self::assertSame('["a","b"]', $out);
    }

    public function testReferencesAreFollowed(): void
    {
        $out = self::withEngine(<<<'PHP'
            $list = ['a', 'b'];
            foreach ($list as &$v) {}
            $t = push_token($list, 60, ['secret' => 'an-hs256-key-of-at-least-32-bytes!!']);
            echo json_encode(json_decode(base64_decode(strtr(explode('.', $t)[1], '-_', '+/')), true)['channels']), "\n";
            $flag = true;
            $event = 'e';
            $first = push_send('b', 'x');
            push_send('b', 'looks like text', ['binary' => &$flag, 'event' => &$event]);
            $body = file_get_contents('http://' . push_stats()['listen'] . "/poll/b?since=$first&timeout=0");
            $m = json_decode($body, true)['messages'][0];
            echo $m['encoding'] ?? 'text', ' ', $m['event'] ?? '-', "\n";
            PHP);
        self::assertSame("[\"a\",\"b\"]\nbase64 e\n", $out);
    }

    /** @return array<string, array{mixed, bool|string}> */
    public static function flags(): array
    {
        return [
            'true' => [true, true], 'false' => [false, false],
            '1' => [1, true], '2' => [2, true], '0' => [0, false], '1.0' => [1.0, true],
            '"1"' => ['1', true], '"0"' => ['0', false], '""' => ['', false],
            '"yes"' => ['yes', true], '"On"' => ['On', true], '"true"' => ['true', true],
            '"no"' => ['no', false], '"off"' => ['off', false], '"false"' => ['false', false],
            '"maybe"' => ['maybe', 'ValueError'], '"1abc"' => ['1abc', 'ValueError'],
        ];
    }

    /**
     * @dataProvider flags
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('flags')]
    public function testBinaryAndPublishAreBooleansAlike(mixed $value, bool|string $expected): void
    {
        $v = var_export($value, true);
        $out = self::withEngine(<<<PHP
            \$first = push_send('b', 'x');
            try {
                push_send('b', 'looks like text', ['binary' => $v]);
                \$body = file_get_contents('http://' . push_stats()['listen'] . "/poll/b?since=\$first&timeout=0");
                echo (json_decode(\$body, true)['messages'][0]['encoding'] ?? '') === 'base64' ? 'binary' : 'text', ' ';
            } catch (ValueError \$e) { echo \$e->getMessage(), ' '; }
            try {
                \$t = push_token(['c'], 60, ['secret' => 'an-hs256-key-of-at-least-32-bytes!!', 'publish' => $v]);
                echo json_encode(json_decode(base64_decode(strtr(explode('.', \$t)[1], '-_', '+/')), true)['publish']);
            } catch (ValueError \$e) { echo \$e->getMessage(); }
            PHP);
        if ($expected === 'ValueError') {
            $shown = (string) $value;
            self::assertSame(
                "push_send(): Argument #3 (\$options) [\"binary\"] must be a boolean (true, false, 1, 0, \"on\", \"off\", \"yes\", \"no\"), \"$shown\" given "
                . "push_token(): Argument #3 (\$options) [\"publish\"] must be a boolean (true, false, 1, 0, \"on\", \"off\", \"yes\", \"no\"), \"$shown\" given",
                $out,
            );
        } else {
            self::assertSame(($expected ? 'binary' : 'text') . ' ' . json_encode($expected), $out);
        }
    }

    public function testConstructingABuiltMessageAgainIsOneError(): void
    {
        $m = new \Push\Message('1-1', 'c', null, 'd');
        try {
            $m->__construct('1-2', 'other', 'e', 'changed', true);
            self::fail('no exception');
        } catch (\Error $e) {
            self::assertSame(\Error::class, get_class($e));
            self::assertSame('Cannot modify readonly property Push\Message::$id', $e->getMessage());
            self::assertNull($e->getPrevious(), 'one exception, not one per property');
        }
        self::assertSame(['1-1', 'c', null, 'd', false], [$m->id, $m->channel, $m->event, $m->data, $m->lost]);
        self::assertSame('d', (string) $m);
    }

    /** A worker's push_send() keeps 'binary' over push.socket, as the engine process does. */
    public function testBinaryGoesThroughTheLocalSocket(): void
    {
        [, $socket, $addr] = $this->daemon();
        $out = self::worker($socket, <<<'PHP'
            $first = push_send('b', 'x');
            push_send('b', 'looks like text', ['binary' => true]);
            push_send('b', 'text', ['binary' => false, 'event' => 'e']);
            echo $first;
            PHP);
        [, $body] = self::httpGet($addr, "/poll/b?since=$out&timeout=0");
        $messages = json_decode($body, true, 512, JSON_THROW_ON_ERROR)['messages'];
        self::assertSame(['base64', null], array_map(fn ($m) => $m['encoding'] ?? null, $messages));
        self::assertSame('looks like text', base64_decode($messages[0]['data']));
        self::assertSame(['text', 'e'], [$messages[1]['data'], $messages[1]['event']]);
    }
}
