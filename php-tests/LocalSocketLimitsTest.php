<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * push.socket is bounded: push.max_workers connections at once (one more
 * is refused with the reason), idle ones closed after
 * push.socket_idle_timeout, and a worker reconnects by itself.
 */
final class LocalSocketLimitsTest extends PushTestCase
{
    public function testAnIdleConnectionIsClosedAndTheWorkerReconnects(): void
    {
        [, $socket] = $this->daemon(null, ['--socket_idle_timeout=0.2']);
        $out = self::worker($socket, <<<'PHP'
            push_send('c', 'one');
            usleep(500_000); // the engine closes the idle connection meanwhile
            push_send('c', 'two');
            echo push_stats()['role'], ' ', push_stats()['publications'];
            PHP);
        self::assertSame('worker 2', $out);
    }

    public function testOneWorkerOverMaxWorkersIsRefusedWithTheReason(): void
    {
        [, $socket] = $this->daemon(null, ['--max_workers=1']);
        $holder = proc_open(
            [PHP_BINARY, '-d', "push.socket=$socket", '-r', "push_send('c', 'x'); echo \"connected\\n\"; sleep(10);"],
            [1 => ['pipe', 'w']],
            $pipes,
        );
        self::assertIsResource($holder);
        try {
            self::assertSame("connected\n", fgets($pipes[1]));
            $out = self::worker($socket, <<<'PHP'
                try { push_send('c', 'y'); } catch (Push\ConnectionException $e) { echo get_class($e), ': ', $e->getMessage(); }
                PHP);
            self::assertSame(
                "Push\\ConnectionException: push_send(): the push engine on $socket refused the connection: "
                . 'push.max_workers (1) connections are open on its local socket',
                $out,
            );
        } finally {
            proc_terminate($holder, SIGKILL);
            proc_close($holder);
        }
        $deadline = microtime(true) + 5;
        do {
            usleep(50_000);
            [, $out] = self::php("<?php\ntry { push_send('c', 'z'); echo 'sent'; } catch (Push\\ConnectionException \$e) { echo 'refused'; }", ['-d', "push.socket=$socket"]);
        } while ($out !== 'sent' && microtime(true) < $deadline);
        self::assertSame('sent', $out, 'once the holder is gone, another worker gets in');
    }
}
