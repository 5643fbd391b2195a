<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * push_* calls made from a PHP signal handler while another push_* call
 * waits (pcntl_async_signals): they work, in both roles, and never hang.
 */
final class ReentrancyTest extends PushTestCase
{
    /** @return array<string, array{string}> */
    public static function roles(): array
    {
        return ['engine' => ['engine'], 'worker' => ['worker']];
    }

    /** Runs $code in a fresh PHP in $role; returns its output (fails after 15 s). */
    private function inRole(string $role, string $code): string
    {
        if ($role === 'worker') {
            [, $socket] = $this->daemon();
            $args = ['-d', "push.socket=$socket"];
            $start = '';
        } else {
            $args = [];
            $start = "push_server_start(['listen' => '127.0.0.1:0']);\n";
        }
        // A hang fails the test after 15 s instead of hanging the suite.
        [$status, $out, $err] = self::php("<?php\n$start$code", $args, 15.0);
        self::assertSame(0, $status, "$out\n$err");
        self::assertSame('', $err);
        return $out;
    }

    /**
     * @dataProvider roles
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('roles')]
    public function testCallsFromASignalHandlerDuringAWait(string $role): void
    {
        $out = $this->inRole($role, <<<'PHP'
            pcntl_async_signals(true);
            $first = push_send('c', 'before');
            pcntl_signal(SIGALRM, function () use ($first) {
                echo 'handler: ', push_stats()['role'], ' ';
                push_send('c', 'from the handler');
                echo push_get_message('c', 1, $first), ' ';
                push_send('fresh', 'wakes the wait');
            });
            pcntl_alarm(1);
            $t = microtime(true);
            $m = push_get_message('fresh', 5);
            printf("| %s %d | %s\n", $m, microtime(true) - $t < 3, push_stats()['role']);
            echo push_send('c', 'after') !== '' ? 'sent after' : '', "\n";
            PHP);
        self::assertSame("handler: $role from the handler | wakes the wait 1 | $role\nsent after\n", $out);
    }
}
