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

    /**
     * pcntl_fork() in a signal handler during a wait: the child's copy of
     * the wait ends at once with an exception (it neither hangs on the
     * parent's runtime nor reads the parent's connection), and the child
     * can then use push as a worker of its own; the parent's wait goes on
     * and receives what the child sent.
     *
     * @dataProvider roles
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('roles')]
    public function testAForkInASignalHandlerDuringAWait(string $role): void
    {
        $out = $this->inRole($role, <<<'PHP'
            pcntl_async_signals(true);
            $child = null;
            $parent = getmypid();
            pcntl_signal(SIGALRM, function () use (&$child) { $child = pcntl_fork(); });
            pcntl_alarm(1);
            $t = microtime(true);
            try {
                $r = (string) push_get_message('c', 5);
            } catch (Throwable $e) {
                $r = get_class($e) . ': ' . str_replace((string) $parent, 'PARENT', $e->getMessage());
            }
            if ($child === 0) {
                printf("child: %s %d\n", $r, microtime(true) - $t < 2);
                push_send('c', 'from the child');
                echo 'child: ', push_stats()['role'], "\n";
                exit(0);
            }
            pcntl_waitpid($child, $status);
            printf("parent: %s %d %d\n", $r, pcntl_wexitstatus($status), microtime(true) - $t < 4);
            PHP);
        self::assertSame(
            "child: Push\\PushException: push_get_message(): this wait began in process PARENT: a forked child cannot go on with it (call push_get_message() again) 1\n"
            . "child: worker\n"
            . "parent: from the child 0 1\n",
            $out,
        );
    }

    /**
     * A forked child closes the connection it inherited at once: when the
     * parent gives a wait up (by closing its connection), the engine sees
     * it, though the child still runs.
     */
    public function testAForkedChildKeepsNoCopyOfTheConnection(): void
    {
        $out = $this->inRole('worker', <<<'PHP'
            push_send('x', 'opens the connection');
            $pid = pcntl_fork();
            if ($pid === 0) { sleep(5); exit(0); }
            pcntl_async_signals(true);
            pcntl_signal(SIGALRM, function () { throw new RuntimeException('given up'); });
            pcntl_alarm(1);
            try { push_get_message('held', 5); } catch (RuntimeException $e) { echo $e->getMessage(), ' '; }
            $deadline = microtime(true) + 2;
            while (($n = push_stats()['subscribers']) !== 0 && microtime(true) < $deadline) { usleep(20_000); }
            echo $n;
            posix_kill($pid, SIGKILL);
            pcntl_waitpid($pid, $status);
            PHP);
        self::assertSame('given up 0', $out);
    }
}
