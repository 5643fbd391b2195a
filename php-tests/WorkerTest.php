<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * Processes without an engine of their own (php-fpm workers, CLI scripts)
 * reach the engine through push.socket.
 */
final class WorkerTest extends PushTestCase
{
    public function testWorkerPublishesAndWaitsThroughTheSocket(): void
    {
        [, $socket, $addr] = $this->daemon();
        $out = self::worker($socket, <<<'PHP'
            $threads = count(glob('/proc/self/task/*'));
            echo push_stats()['role'], "\n";
            $first = push_send('news', 'a');
            push_send('news', "b\0binary", ['event' => 'e']);
            $m = push_get_message('news', 1, $first);
            echo json_encode([$m->data, $m->event, $m->lost, $m->channel]), "\n";
            // Per-process cursor: the first call waits for the next, then nothing is missed.
            var_export(push_get_message('feed', 0.1)); echo "\n";
            push_send('feed', 'one'); push_send('feed', 'two');
            echo push_get_message('feed', 1), ',', push_get_message('feed', 1), "\n";
            for ($i = 0; $i < 200; $i++) { push_send('load', "m$i"); }
            echo $threads, ' ', count(glob('/proc/self/task/*')), "\n";
            PHP);
        self::assertSame("worker\n" . json_encode(["b\0binary", 'e', false, 'news']) . "\nNULL\none,two\n1 1\n", $out, 'a worker starts no thread');
        [$status, $body] = self::httpGet($addr, '/poll/load?since=' . 'x-1');
        self::assertSame(400, $status, $body);
    }

    public function testWorkerIsToldOfALossItsWaitTimedOutOn(): void
    {
        [, $socket] = $this->daemon();
        $out = self::worker($socket, <<<'PHP'
            var_export(push_get_message('gone', 0.2, '1-5')); echo "\n";
            push_send('gone', 'next');
            $m = push_get_message('gone', 1);
            echo json_encode([$m->data, $m->lost]), "\n";
            push_send('gone', 'after');
            echo json_encode(push_get_message('gone', 1)->lost), "\n";
            PHP);
        self::assertSame("NULL\n" . json_encode(['next', true]) . "\nfalse\n", $out);
    }

    public function testWorkerErrorsAreThoseOfTheEngine(): void
    {
        [, $socket] = $this->daemon(null, ['--max_message_size=1K', '--max_channels=1']);
        $out = self::worker($socket, <<<'PHP'
            try { push_send('c', str_repeat('x', 1025)); } catch (ValueError $e) { echo $e->getMessage(), "\n"; }
            push_send('c', 'ok');
            try { push_send('other', 'x'); } catch (Push\PushException $e) { echo get_class($e), ': ', $e->getMessage(), "\n"; }
            try { push_send('bad name', 'x'); } catch (ValueError $e) { echo "ValueError\n"; }
            PHP);
        self::assertSame(
            "push_send(): Argument #2 (\$message) must be at most 1024 bytes (push.max_message_size), 1025 given\n"
            . "Push\\PushException: push_send(): too many channels: push.max_channels (1) are open\n"
            . "ValueError\n",
            $out,
        );
    }

    public function testNoEngineFailsFastThenWorksOnceItStarts(): void
    {
        $socket = self::socketPath();
        $t = microtime(true);
        $out = self::worker($socket, <<<'PHP'
            $t = microtime(true);
            try { push_send('c', 'x'); } catch (Push\ConnectionException $e) { echo $e->getMessage(), "\n"; }
            try { push_get_message('c', 5); } catch (Push\ConnectionException $e) { echo "wait: ConnectionException\n"; }
            echo push_stats()['role'], "\n";
            printf("%d\n", microtime(true) - $t < 0.5);
            PHP);
        self::assertSame(
            "push_send(): no push engine runs in this process and none answers on $socket: start one with push_serve() (bin/push-server) or push_server_start()\n"
            . "wait: ConnectionException\nidle\n1\n",
            $out,
        );
        $this->daemon($socket);
        self::assertSame('worker', self::worker($socket, "echo push_stats()['role'];"));
    }

    public function testEngineRestartedWithSigkill(): void
    {
        [$pid, $socket] = $this->daemon();
        $proc = proc_open(
            [PHP_BINARY, '-d', "push.socket=$socket", '-r', <<<'PHP'
                // One worker process across the engine's death and restart.
                $sent = $failed = 0;
                $deadline = microtime(true) + 8;
                while (microtime(true) < $deadline && !($failed > 0 && $sent >= 20)) {
                    try { push_send('c', 'x'); $sent += $failed > 0 ? 1 : 0; }
                    catch (Push\ConnectionException $e) { $failed++; }
                    usleep(20000);
                    if ($sent === 0 && $failed === 0 && file_exists('/proc/' . (int) getenv('ENGINE_PID'))) { continue; }
                }
                echo $failed > 0 ? 'failed-during-gap ' : 'no-gap ', $sent >= 20 ? 'recovered' : 'stuck';
                PHP],
            [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
            null,
            ['ENGINE_PID' => (string) $pid] + getenv(),
        );
        usleep(300_000);
        posix_kill($pid, SIGKILL);
        usleep(500_000);
        self::assertFileExists($socket, 'a crashed engine leaves its socket file');
        $this->daemon($socket); // replaces the stale file
        $out = stream_get_contents($pipes[1]);
        $err = stream_get_contents($pipes[2]);
        self::assertSame(0, proc_close($proc), $err);
        self::assertSame('failed-during-gap recovered', $out);
    }

    public function testKilledWorkerLeavesNoWaiterBehind(): void
    {
        [, $socket] = $this->daemon();
        $proc = proc_open([PHP_BINARY, '-d', "push.socket=$socket", '-r', "push_get_message('x', 30);"], [], $pipes);
        $count = static fn () => (int) self::worker($socket, "echo push_stats()['subscribers'];");
        $deadline = microtime(true) + 5;
        while ($count() !== 1 && microtime(true) < $deadline) {
            usleep(50_000);
        }
        self::assertSame(1, $count(), 'the worker waits in the engine');
        posix_kill(proc_get_status($proc)['pid'], SIGKILL);
        proc_close($proc);
        $deadline = microtime(true) + 5;
        while ($count() !== 0 && microtime(true) < $deadline) {
            usleep(50_000);
        }
        self::assertSame(0, $count());
    }

    public function testWorkerWaitUsesNoCpuAndRunsSignalHandlers(): void
    {
        [, $socket] = $this->daemon();
        $out = self::worker($socket, <<<'PHP'
            pcntl_async_signals(true);
            $r0 = getrusage(); $t = microtime(true);
            $r = push_get_message('quiet', 1);
            $r1 = getrusage();
            $cpu = ($r1['ru_utime.tv_sec'] - $r0['ru_utime.tv_sec']) * 1e6 + $r1['ru_utime.tv_usec'] - $r0['ru_utime.tv_usec']
                 + ($r1['ru_stime.tv_sec'] - $r0['ru_stime.tv_sec']) * 1e6 + $r1['ru_stime.tv_usec'] - $r0['ru_stime.tv_usec'];
            printf("%s %d %d\n", var_export($r, true), microtime(true) - $t >= 0.99, $cpu < 20000);
            pcntl_signal(SIGUSR1, function () { throw new RuntimeException('interrupted'); });
            $pid = getmypid();
            exec("(sleep 0.3; kill -USR1 $pid) >/dev/null 2>&1 &");
            $t = microtime(true);
            try { push_get_message('quiet', 10); } catch (RuntimeException $e) { printf("%s %d\n", $e->getMessage(), microtime(true) - $t < 1); }
            $id = push_send('after', 'still works');
            echo push_get_message('after', 1, explode('-', $id)[0] . '-0'), "\n";
            PHP);
        self::assertSame("NULL 1 1\ninterrupted 1\nstill works\n", $out);
    }

    public function testForkedWorkersEachUseTheirOwnConnection(): void
    {
        [, $socket] = $this->daemon();
        $out = self::worker($socket, <<<'PHP'
            push_send('f', 'parent before fork');
            $children = [];
            for ($i = 0; $i < 3; $i++) {
                $pid = pcntl_fork();
                if ($pid === 0) {
                    for ($j = 0; $j < 50; $j++) { push_send("child$i", "m$j"); }
                    exit(0);
                }
                $children[] = $pid;
            }
            push_send('f', 'parent during');
            foreach ($children as $pid) { pcntl_waitpid($pid, $status); echo pcntl_wexitstatus($status); }
            echo ' ', push_stats()['publications'];
            PHP);
        self::assertSame('000 152', $out);
    }

    public function testOneEnginePerSocket(): void
    {
        [, $socket] = $this->daemon();
        [$code, , $err] = self::command([PHP_BINARY, dirname(__DIR__) . '/bin/push-server', '--listen=127.0.0.1:0', "--socket=$socket"]);
        self::assertSame(1, $code);
        self::assertStringContainsString("another push engine is already running on $socket", $err);
    }

    public function testStaleSocketFileIsReplacedAndOtherFilesAreNot(): void
    {
        $socket = self::socketPath();
        $server = stream_socket_server("unix://$socket");
        fclose($server); // leaves the file behind, like a crashed engine
        self::assertFileExists($socket);
        $this->daemon($socket);
        self::assertSame('worker', self::worker($socket, "echo push_stats()['role'];"));
        self::assertSame(0660, fileperms($socket) & 0777, 'push.socket_mode');

        $file = self::socketPath();
        file_put_contents($file, 'not a socket');
        [$code, , $err] = self::command([PHP_BINARY, dirname(__DIR__) . '/bin/push-server', '--listen=127.0.0.1:0', "--socket=$file"]);
        self::assertSame(1, $code);
        self::assertStringContainsString("cannot use the local socket $file: the path exists and is not a socket", $err);
        self::assertSame('not a socket', file_get_contents($file));
        unlink($file);
    }

    public function testGarbageOnTheSocketClosesOnlyThatConnection(): void
    {
        [, $socket] = $this->daemon();
        // A length over the limit ("GET " is 1.2 GB) is answered with a
        // TOO_LARGE error, then the connection closes unread.
        foreach (['a length over the limit' => "\xff\xff\xff\xff", 'HTTP' => "GET / HTTP/1.1\r\nHost: x\r\n\r\n"] as $what => $garbage) {
            $c = stream_socket_client("unix://$socket");
            fwrite($c, $garbage);
            stream_set_timeout($c, 5);
            $answer = stream_get_contents($c);
            self::assertSame("\xff\x03", substr($answer, 4, 2), "$what: an ERROR answer, code TOO_LARGE");
            self::assertTrue(feof($c), "$what: then the end of the connection");
            fclose($c);
        }
        $closed = [
            'an empty frame' => "\x00\x00\x00\x00",
            'an unknown request' => "\x00\x00\x00\x01\x7f",
        ];
        foreach ($closed as $what => $garbage) {
            $c = stream_socket_client("unix://$socket");
            fwrite($c, $garbage);
            stream_set_timeout($c, 5);
            $read = @fread($c, 100); // '' at end of stream, false if reset
            self::assertTrue($read === '' || $read === false, "$what: the engine closed the connection");
            self::assertTrue(feof($c) || $read === false, $what);
            fclose($c);
        }
        // A well-framed request with a bad payload is answered with an error.
        $c = stream_socket_client("unix://$socket");
        fwrite($c, "\x00\x00\x00\x04\x02\x09ab");
        stream_set_timeout($c, 5);
        $head = fread($c, 5);
        self::assertSame("\xff", $head[4] ?? '', 'an ERROR answer');
        fclose($c);
        self::assertSame('ok', self::worker($socket, "push_send('c', 'x'); echo 'ok';"), 'everyone else is served');
    }
}
