<?php

declare(strict_types=1);

namespace Push\Tests;

use Push\ConnectionException;
use Push\PushException;

final class EngineTest extends PushTestCase
{
    public function testNoEngineMeansConnectionExceptionSayingHowToStartOne(): void
    {
        try {
            push_send('news', 'x');
            self::fail('expected ConnectionException');
        } catch (ConnectionException $e) {
            self::assertStringContainsString('push_send(): no push engine runs in this process and none answers on /tmp/push.sock', $e->getMessage());
            self::assertStringContainsString('push_serve()', $e->getMessage());
            self::assertStringContainsString('push_server_start()', $e->getMessage());
        }
        $this->expectException(ConnectionException::class);
        push_get_message('news', 0.1);
    }

    public function testHealthAnswersWhileRunning(): void
    {
        $addr = self::startEngine();
        [$status, $body] = self::httpGet($addr, '/health');
        self::assertSame(200, $status);
        self::assertSame('ok', json_decode($body, true, 512, JSON_THROW_ON_ERROR)['status']);
        [$status] = self::httpGet($addr, '/no-such-path');
        self::assertSame(404, $status);
    }

    public function testStopIsIdempotentAndReleasesThePort(): void
    {
        $addr = self::startEngine();
        push_server_stop();
        push_server_stop();
        self::assertSame('idle', push_stats()['role']);
        self::assertFalse(@stream_socket_client("tcp://$addr", $errno, $errstr, 0.5), 'nobody listens any more');
        push_server_start(['listen' => $addr, 'socket' => self::socketPath()]);
        self::assertSame($addr, push_stats()['listen'], 'the same port can be bound again at once');
    }

    public function testSecondStartIsRefused(): void
    {
        $addr = self::startEngine();
        $this->expectException(PushException::class);
        $this->expectExceptionMessage("push_server_start(): the push engine is already running in this process (listening on $addr)");
        push_server_start(['listen' => '127.0.0.1:0']);
    }

    public function testAddressInUseIsAClearError(): void
    {
        $server = stream_socket_server('tcp://127.0.0.1:0');
        $addr = stream_socket_get_name($server, false);
        try {
            push_server_start(['listen' => $addr, 'socket' => self::socketPath()]);
            self::fail('expected PushException');
        } catch (PushException $e) {
            self::assertStringContainsString("push_server_start(): cannot listen on $addr: Address already in use", $e->getMessage());
        }
        self::assertSame('idle', push_stats()['role'], 'a failed start leaves nothing running');
        fclose($server);
    }

    public function testUnresolvableListenIsAClearError(): void
    {
        $this->expectException(PushException::class);
        $this->expectExceptionMessage('push_server_start(): cannot listen on no-such-host.invalid:80');
        push_server_start(['listen' => 'no-such-host.invalid:80', 'socket' => self::socketPath()]);
    }

    public function testMaxChannelsIsEnforced(): void
    {
        self::startEngine(['max_channels' => 2]);
        push_send('one', 'x');
        push_send('two', 'x');
        push_send('one', 'still fine');
        $this->expectException(PushException::class);
        $this->expectExceptionMessage('push_send(): too many channels: push.max_channels (2) are open');
        push_send('three', 'x');
    }

    public function testNoThreadAtModuleStartup(): void
    {
        [$code, $out, $err] = self::php('<?php echo count(glob("/proc/self/task/*")), " ", push_stats()["threads"];');
        self::assertSame(0, $code, $err);
        self::assertSame('1 1', $out, 'loading push starts no thread (php-fpm forks after start-up)');
    }

    public function testServeRunsUntilSigterm(): void
    {
        $proc = proc_open([PHP_BINARY, dirname(__DIR__) . '/bin/push-server', '--listen=127.0.0.1:0', '--socket=' . self::socketPath()], [2 => ['pipe', 'w']], $pipes);
        self::assertIsResource($proc);
        $line = self::firstLine($pipes[2]);
        if (!preg_match('#^push: engine listening on http://127\.0\.0\.1:(\d+) \(pid \d+\), workers on unix:/\S+\.sock, broker memory;#', (string) $line)) {
            posix_kill(proc_get_status($proc)['pid'], SIGKILL); // leave no daemon behind
            proc_close($proc);
            self::fail("unexpected start line: $line");
        }
        preg_match('#http://([0-9.:]+)#', $line, $m);
        [$status] = self::httpGet($m[1], '/health');
        self::assertSame(200, $status);
        $pid = proc_get_status($proc)['pid'];
        $t = microtime(true);
        posix_kill($pid, SIGTERM);
        $rest = stream_get_contents($pipes[2]);
        $code = proc_close($proc);
        self::assertSame(0, $code, 'a clean exit');
        self::assertLessThan(5.0, microtime(true) - $t, 'within push.shutdown_timeout');
        self::assertStringContainsString('push: engine stopped (SIGTERM)', $rest);
    }

    public function testServerScriptRejectsBadArguments(): void
    {
        [$code, , $err] = self::command([PHP_BINARY, dirname(__DIR__) . '/bin/push-server', '--history=lots']);
        self::assertSame(1, $code);
        self::assertStringContainsString('invalid value "lots" for push.history', $err);
        [$code, , $err] = self::command([PHP_BINARY, dirname(__DIR__) . '/bin/push-server', 'oops']);
        self::assertSame(2, $code);
        self::assertStringContainsString("unexpected argument 'oops'", $err);
    }

    public function testForkedChildGetsNoEngineAndNoListeningSocket(): void
    {
        $addr = self::startEngine();
        $first = push_send('f', 'before fork');
        [$report, $childEnd] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $pid = pcntl_fork();
        if ($pid === 0) {
            // Child: the parent's engine is not ours; we may start our own.
            $code = 0;
            try {
                push_send('f', 'x');
                $code = 10;
            } catch (ConnectionException) {
            }
            try {
                push_server_start(['listen' => '127.0.0.1:0', 'socket' => self::socketPath()]);
                $id = push_send('f', 'child');
                $code = $code ?: (push_get_message('f', 1, explode('-', $id)[0] . '-0')->data === 'child' ? 0 : 11);
                push_server_stop();
            } catch (\Throwable) {
                $code = 12;
            }
            fwrite($childEnd, "$code\n");
            usleep(1_500_000); // stay alive while the parent looks at its sockets
            posix_kill(getmypid(), SIGKILL); // leave without running PHPUnit's shutdown
        }
        // Parent: our engine still works.
        self::assertSame('before fork', push_get_message('f', 1, explode('-', $first)[0] . '-0')->data);
        push_send('f', 'parent');
        self::assertSame("0\n", fgets($report), 'the child saw no engine, then ran its own');
        // The kernel says who holds a socket listening on the engine's port:
        // this process (the detector works), not the child. (Rebinding the
        // port after a stop would also tell, but another process's bind to
        // port 0 can take a freed port first on a busy machine.)
        $port = (int) substr($addr, strrpos($addr, ':') + 1);
        self::assertTrue(self::holdsListener(getmypid(), $port), 'the parent holds its listener');
        self::assertFalse(self::holdsListener($pid, $port), 'the child holds no socket listening on the port');
        push_server_stop();
        pcntl_waitpid($pid, $status);
        self::assertTrue(pcntl_wifsignaled($status), 'child ran to its end');
    }

    /** Whether process $pid holds a TCP socket listening on $port (/proc/net/tcp{,6} against /proc/PID/fd). */
    private static function holdsListener(int $pid, int $port): bool
    {
        $inodes = [];
        foreach (['/proc/net/tcp', '/proc/net/tcp6'] as $table) {
            foreach (array_slice(file($table, FILE_IGNORE_NEW_LINES) ?: [], 1) as $line) {
                $f = preg_split('/\s+/', trim($line));
                // local_address is ADDR:PORT in hex; state 0A is LISTEN.
                if (hexdec(substr($f[1], strrpos($f[1], ':') + 1)) === $port && $f[3] === '0A') {
                    $inodes["socket:[{$f[9]}]"] = true;
                }
            }
        }
        foreach (glob("/proc/$pid/fd/*") ?: [] as $fd) {
            if (isset($inodes[(string) @readlink($fd)])) {
                return true;
            }
        }
        return false;
    }

    public function testForkedChildExitsCleanly(): void
    {
        self::startEngine();
        $pid = pcntl_fork();
        if ($pid === 0) {
            try {
                push_send('f', 'x');
                exit(10);
            } catch (ConnectionException) {
                exit(0); // module shutdown in the child must not touch the parent's runtime
            }
        }
        pcntl_waitpid($pid, $status);
        self::assertTrue(pcntl_wifexited($status));
        self::assertSame(0, pcntl_wexitstatus($status));
        self::assertNotFalse(push_send('f', 'parent still works'));
    }
}
