<?php

declare(strict_types=1);

namespace Push\Tests;

require_once __DIR__ . '/fixtures/attempt.php';

/**
 * The PHP side of the bad-input battery: every case of
 * fixtures/hostile.php, in the engine process and in a worker that reaches
 * a daemon through push.socket. Each gets its exact exception (or returns
 * normally), never a crash or a hang; after each, a message published on
 * `after` must come back, and an SSE subscriber on the same engine must
 * have received every one of them at the end.
 */
final class HostileInputTest extends PushTestCase
{
    /** Cases each process must run (so that none silently vanishes). */
    private const FLOOR = 80;

    /** @return array<string, array{callable, ?string, string}> */
    private static function cases(string $role): array
    {
        return (require __DIR__ . '/fixtures/hostile.php')($role);
    }

    /** Opens an SSE stream of `after` on the engine at $addr. */
    private static function subscriber(string $addr)
    {
        $s = stream_socket_client("tcp://$addr", $errno, $errstr, 5);
        self::assertIsResource($s, $errstr);
        fwrite($s, "GET /sse/after HTTP/1.1\r\nHost: x\r\n\r\n");
        stream_set_timeout($s, 5);
        self::assertStringStartsWith('HTTP/1.1 200', (string) fgets($s));
        return $s;
    }

    /** Reads the SSE stream until every name has come as a `data:` line. */
    private static function assertReceivedAll($stream, array $names): void
    {
        $raw = '';
        $deadline = microtime(true) + 10;
        $missing = $names;
        while ($missing && microtime(true) < $deadline) {
            $chunk = fread($stream, 65536);
            if ($chunk === false || ($chunk === '' && feof($stream))) {
                break;
            }
            $raw .= $chunk;
            $missing = array_values(array_filter($missing, fn ($n) => !str_contains($raw, "data: $n\n")));
        }
        self::assertSame([], $missing, 'the SSE subscriber received a message after every case');
    }

    public function testTheEngineProcessRefusesEveryBadInput(): void
    {
        $addr = self::startEngine(['max_message_size' => '1K']);
        $sse = self::subscriber($addr);
        $cases = self::cases('engine');
        foreach ($cases as $name => [$call, $class, $fragment]) {
            [$gotClass, $text] = attempt($call);
            self::assertSame($class, $gotClass, "$name: $text");
            self::assertStringContainsString($fragment, $text, $name);
            $id = push_send('after', $name);
            self::assertSame($name, push_get_message('after', 1, self::before($id))?->data, "after $name");
        }
        self::assertReceivedAll($sse, array_keys($cases));
        fwrite(STDERR, sprintf("\nhostile PHP (engine process): %d cases\n", count($cases)));
        self::assertGreaterThanOrEqual(self::FLOOR + 2, count($cases));
    }

    public function testAWorkerRefusesEveryBadInput(): void
    {
        [, $socket, $addr] = $this->daemon(null, ['--max_message_size=1K']);
        $sse = self::subscriber($addr);
        $fixture = var_export(__DIR__ . '/fixtures/hostile.php', true);
        $attempt = var_export(__DIR__ . '/fixtures/attempt.php', true);
        // The worker runs each case and reports what became of it.
        [$code, $out, $err] = self::php(<<<PHP
            <?php
            declare(strict_types=1);
            require $attempt;
            \$cases = (require $fixture)('worker');
            \$report = [];
            foreach (\$cases as \$name => [\$call]) {
                \$report[\$name] = \\Push\\Tests\\attempt(\$call);
                \$id = push_send('after', \$name);
                [\$epoch, \$offset] = explode('-', \$id);
                \$back = push_get_message('after', 1, \$epoch . '-' . (\$offset - 1));
                \$report[\$name][] = \$back?->data === \$name;
                \$report[\$name][] = push_stats()['role'];
            }
            echo json_encode(\$report, JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR);
            PHP, ['-d', "push.socket=$socket", '-d', 'memory_limit=-1'], 120);
        self::assertSame(0, $code, "the worker ended: $out $err");
        $report = json_decode($out, true, 512, JSON_THROW_ON_ERROR);
        $cases = self::cases('worker');
        self::assertSame(array_keys($cases), array_keys($report), 'every case ran');
        foreach ($cases as $name => [, $class, $fragment]) {
            [$gotClass, $text, $after, $role] = $report[$name];
            self::assertSame($class, $gotClass, "$name: $text");
            self::assertStringContainsString($fragment, $text, $name);
            self::assertTrue($after, "after $name: the worker's next message came back");
            self::assertSame('worker', $role, "after $name");
        }
        self::assertReceivedAll($sse, array_keys($cases));
        fwrite(STDERR, sprintf("hostile PHP (worker): %d cases\n", count($cases)));
        self::assertGreaterThanOrEqual(self::FLOOR, count($cases));
    }

    /** The id just before $id (the cursor that returns $id next). */
    private static function before(string $id): string
    {
        [$epoch, $offset] = explode('-', $id);
        return $epoch . '-' . ((int) $offset - 1);
    }
}
