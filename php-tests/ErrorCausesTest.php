<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * Errors name the real cause: a socket this user may not open, a Redis
 * that is down, an open-files limit below what the settings need.
 */
final class ErrorCausesTest extends PushTestCase
{
    public function testASocketThisUserMayNotOpenIsSaidSo(): void
    {
        [, $socket] = $this->daemon();
        // root passes any permission check: drop to nobody; anyone else
        // is refused by a socket of mode 0.
        $drop = posix_geteuid() === 0 ? 'posix_setgid(65534); posix_setuid(65534);' : '';
        if ($drop === '') {
            chmod($socket, 0);
        }
        $out = self::worker($socket, $drop . <<<'PHP'
            try { push_send('c', 'x'); } catch (Push\ConnectionException $e) { echo get_class($e), ': ', $e->getMessage(), "\n"; }
            echo push_stats()['role'], "\n";
            PHP);
        self::assertSame(
            "Push\\ConnectionException: push_send(): permission denied on the local socket $socket: "
            . "this process's user may not connect to the push engine (see push.socket_group and push.socket_mode)\nidle\n",
            $out,
        );
    }

    public function testAWorkerIsToldRedisIsDownNotOfAProtocolError(): void
    {
        $port = self::freePort();
        [, $socket] = $this->daemon(null, ["--broker=redis://127.0.0.1:$port/0"]);
        $out = self::worker($socket, <<<'PHP'
            try { push_send('c', 'x'); } catch (Push\PushException $e) { echo get_class($e), ': ', $e->getMessage(); }
            PHP);
        self::assertStringStartsWith("Push\\PushException: push_send(): the Redis broker is unavailable (redis://127.0.0.1:$port/0: ", $out);
        self::assertStringEndsWith('): nothing was published; connected subscribers keep their connections and the engine reconnects by itself', $out);
        self::assertStringNotContainsString('protocol', $out);
    }

    /** @return array{int, string, string} exit code, stdout, stderr */
    private static function withLimits(int $soft, int $hard, int $maxConnections): array
    {
        $file = tempnam(sys_get_temp_dir(), 'push-test-');
        file_put_contents($file, <<<PHP
            <?php
            push_server_start(['listen' => '127.0.0.1:0', 'max_connections' => $maxConnections]);
            preg_match('/^Max open files\s+(\d+)\s+(\d+)/m', file_get_contents('/proc/self/limits'), \$m);
            echo \$m[1], ' ', \$m[2];
            PHP);
        try {
            return self::command(['sh', '-c', "ulimit -Sn $soft && ulimit -Hn $hard && exec \"\$0\" -d push.socket=\"\$1\" \"\$2\"", PHP_BINARY, self::socketPath(), $file]);
        } finally {
            unlink($file);
        }
    }

    public function testTheOpenFilesLimitIsRaisedAndALowOneIsReported(): void
    {
        [$code, $out, $err] = self::withLimits(256, 2000, 100);
        self::assertSame(0, $code, $err);
        self::assertSame('2000 2000', $out, 'the soft limit raised to the hard one');
        self::assertSame('', $err, 'enough for 100 connections: nothing to say');

        [$code, $out, $err] = self::withLimits(256, 2000, 10000);
        self::assertSame(0, $code, $err);
        self::assertSame('2000 2000', $out);
        self::assertSame(
            "push: warning: the open-files limit is 2000 (raised from 256), hard limit 2000, below the 11088 that push.max_connections (10000) with push.max_workers (1024) needs: "
            . "raise it (ulimit -n, or LimitNOFILE= in the systemd unit)\n",
            $err,
        );
    }
}
