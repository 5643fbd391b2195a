<?php

declare(strict_types=1);

namespace Push\Tests;

final class BlockingTest extends PushTestCase
{
    public function testWaitingUsesNoCpu(): void
    {
        self::startEngine();
        $cpu = self::cpu();
        $t = microtime(true);
        self::assertNull(push_get_message('empty', 2));
        $wall = microtime(true) - $t;
        $used = self::cpu() - $cpu;
        self::assertGreaterThanOrEqual(1.99, $wall);
        self::assertLessThan(0.020, $used, sprintf('a 2 s wait used %.1f ms of CPU', $used * 1000));
    }

    public function testSignalHandlersRunDuringAWait(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            pcntl_async_signals(true);
            push_server_start(['listen' => '127.0.0.1:0']);
            $t = microtime(true);
            $ran = null;
            pcntl_signal(SIGUSR1, function () use (&$ran, $t) { $ran = microtime(true) - $t; });
            $pid = getmypid();
            exec("(sleep 0.5; kill -USR1 $pid) >/dev/null 2>&1 &");
            $r = push_get_message('x', 1.5);
            $total = microtime(true) - $t;
            printf("%s %.3f %.3f %d", var_export($r, true), $ran, $total, push_stats()['subscribers']);
            PHP);
        self::assertSame(0, $code, $err);
        [$result, $ran, $total, $subs] = explode(' ', $out);
        self::assertSame('NULL', $result, 'the wait went on after the handler');
        self::assertGreaterThan(0.45, (float) $ran);
        self::assertLessThan(0.5 + 0.2, (float) $ran, 'the handler ran within 200 ms of the signal');
        self::assertGreaterThanOrEqual(1.49, (float) $total);
        self::assertSame('0', $subs);
    }

    public function testAnExceptionFromASignalHandlerEndsTheWait(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            pcntl_async_signals(true);
            push_server_start(['listen' => '127.0.0.1:0']);
            pcntl_signal(SIGUSR1, function () { throw new RuntimeException('interrupted'); });
            $pid = getmypid();
            exec("(sleep 0.3; kill -USR1 $pid) >/dev/null 2>&1 &");
            $t = microtime(true);
            try {
                push_get_message('x', 5);
                echo "no exception";
            } catch (RuntimeException $e) {
                printf("%s %.3f %d", $e->getMessage(), microtime(true) - $t, push_stats()['subscribers']);
            }
            PHP);
        self::assertSame(0, $code, $err);
        [$msg, $after, $subs] = explode(' ', $out);
        self::assertSame('interrupted', $msg);
        self::assertLessThan(1.0, (float) $after);
        self::assertSame('0', $subs, 'the abandoned wait left no subscriber behind');
    }

    public function testExitInASignalHandlerExits(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            pcntl_async_signals(true);
            push_server_start(['listen' => '127.0.0.1:0']);
            pcntl_signal(SIGTERM, function () { echo "bye"; exit(7); });
            $pid = getmypid();
            exec("(sleep 0.3; kill -TERM $pid) >/dev/null 2>&1 &");
            push_get_message('x', 5);
            echo " not reached";
            PHP);
        self::assertSame(7, $code, $err);
        self::assertSame('bye', $out);
    }

    public function testServeAlsoRunsPhpSignalHandlers(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            pcntl_async_signals(true);
            pcntl_signal(SIGUSR1, function () { throw new RuntimeException('stop serving'); });
            $pid = getmypid();
            exec("(sleep 0.5; kill -USR1 $pid) >/dev/null 2>&1 &");
            try {
                push_serve(['listen' => '127.0.0.1:0']);
            } catch (RuntimeException $e) {
                echo $e->getMessage(), ' ', push_stats()['role'];
            }
            PHP);
        self::assertSame(0, $code, $err);
        self::assertSame('stop serving idle', $out);
    }
}
