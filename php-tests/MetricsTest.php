<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * The engine's health and metrics as PHP sees them: push_stats() in the
 * engine process and in a worker, php --ri push, and the HTTP endpoints
 * GET /ready and GET /metrics showing the same figures.
 */
final class MetricsTest extends PushTestCase
{
    private const NEW_KEYS = [
        'connections', 'deliveries', 'direct_writes', 'drops', 'slow_disconnects', 'queued_bytes',
        'broker', 'broker_reconnects', 'ready',
    ];

    /** Waits (at most 5 s) until $check(push_stats()) holds; returns those stats. */
    private static function statsWhen(callable $check, string $what): array
    {
        $deadline = microtime(true) + 5;
        while (!$check($s = push_stats())) {
            if (microtime(true) > $deadline) {
                self::fail("$what: " . json_encode($s));
            }
            usleep(10_000);
        }
        return $s;
    }

    public function testWithoutAnEngineThereIsNoBrokerAndNothingIsReady(): void
    {
        $s = push_stats();
        self::assertSame('idle', $s['role']);
        foreach (self::NEW_KEYS as $key) {
            self::assertArrayHasKey($key, $s);
        }
        self::assertSame(['ws' => 0, 'sse' => 0, 'poll' => 0, 'ipc' => 0, 'pusher' => 0], $s['connections']);
        self::assertNull($s['broker']);
        self::assertFalse($s['ready']);
        self::assertSame(0, $s['deliveries']);
    }

    public function testTheEngineProcessCountsConnectionsAndDeliveries(): void
    {
        $addr = self::startEngine(['keepalive' => 30]);
        $s = push_stats();
        self::assertSame('engine', $s['role']);
        self::assertSame(['ws' => 0, 'sse' => 0, 'poll' => 0, 'ipc' => 0, 'pusher' => 0], $s['connections']);
        self::assertSame('memory', $s['broker']);
        self::assertTrue($s['ready']);
        self::assertSame(0, $s['broker_reconnects']);
        foreach (['deliveries', 'direct_writes', 'drops', 'slow_disconnects', 'queued_bytes'] as $key) {
            self::assertSame(0, $s[$key], $key);
        }
        // The existing keys are still there.
        foreach (['channels', 'subscribers', 'publications', 'history_messages', 'history_bytes', 'lagged', 'lost', 'collected', 'memory_rss', 'threads'] as $key) {
            self::assertIsInt($s[$key], $key);
        }

        // An SSE stream (HTTP/1.0: a plain stream) receives two messages.
        $stream = fopen("http://$addr/sse/live", 'r', false, stream_context_create(['http' => ['timeout' => 5, 'protocol_version' => 1.0]]));
        self::assertIsResource($stream);
        self::assertSame("retry: 2000\n", fgets($stream));
        self::assertSame("\n", fgets($stream));
        $s = push_stats();
        self::assertSame(1, $s['connections']['sse']);
        self::assertSame(1, $s['subscribers']);
        push_send('live', 'one');
        push_send('live', 'two');
        $data = [];
        while (count($data) < 2 && ($line = fgets($stream)) !== false) {
            if (str_starts_with($line, 'data: ')) {
                $data[] = trim(substr($line, 6));
            }
        }
        self::assertSame(['one', 'two'], $data);
        $s = push_stats();
        self::assertSame(2, $s['deliveries']);
        self::assertSame(2, $s['publications']);

        // GET /metrics (this process is a loopback peer) shows the same figures.
        [$status, $text] = self::httpGet($addr, '/metrics');
        self::assertSame(200, $status, $text);
        self::assertStringContainsString("# TYPE push_connections gauge\n", $text);
        self::assertStringContainsString("push_connections{transport=\"sse\"} 1\n", $text);
        self::assertStringContainsString("push_deliveries_total{transport=\"sse\"} 2\n", $text);
        self::assertStringContainsString("push_delivery_latency_seconds_count{transport=\"sse\"} 2\n", $text);
        self::assertStringContainsString("push_publications_total 2\n", $text);
        self::assertStringContainsString("push_ready 1\n", $text);
        [$status, $body] = self::httpGet($addr, '/ready');
        self::assertSame(200, $status);
        self::assertSame(['status' => 'ready', 'broker' => 'memory'], json_decode($body, true));

        fclose($stream);
        $s = self::statsWhen(fn (array $s) => $s['connections']['sse'] === 0, 'the closed stream is counted out');
        self::assertSame(0, $s['subscribers']);
        self::assertSame(0, $s['queued_bytes']);
    }

    public function testAWorkerReadsTheEnginesFigures(): void
    {
        $socket = self::socketPath();
        push_server_start(['listen' => '127.0.0.1:0', 'socket' => $socket]);
        $id = push_send('jobs', 'one');
        $before = preg_replace('/-\d+$/', '-0', $id);
        [$code, $out, $err] = self::php(<<<PHP
            <?php
            \$m = push_get_message('jobs', 5, '$before');
            echo \$m, "\\n", json_encode(push_stats()), "\\n";
            PHP, ['-d', "push.socket=$socket"]);
        self::assertSame(0, $code, $err);
        [$data, $json] = explode("\n", $out);
        self::assertSame('one', $data);
        $w = json_decode($json, true, 512, JSON_THROW_ON_ERROR);
        self::assertSame('worker', $w['role']);
        self::assertNull($w['listen']);
        self::assertSame(1, $w['connections']['ipc'], 'the worker itself');
        self::assertSame(1, $w['deliveries'], 'the message handed to it');
        self::assertSame('memory', $w['broker']);
        self::assertTrue($w['ready']);
        self::assertSame(1, $w['publications']);
        foreach (self::NEW_KEYS as $key) {
            self::assertArrayHasKey($key, $w);
        }
        // The engine's own view, once the worker is gone.
        $s = self::statsWhen(fn (array $s) => $s['connections']['ipc'] === 0, 'the worker is counted out');
        self::assertSame(1, $s['deliveries']);
        self::assertSame(array_diff_key($w, ['role' => 0, 'pid' => 0, 'listen' => 0, 'connections' => 0, 'memory_rss' => 0, 'threads' => 0]),
            array_diff_key($s, ['role' => 0, 'pid' => 0, 'listen' => 0, 'connections' => 0, 'memory_rss' => 0, 'threads' => 0]),
            'the same figures on both sides');
    }

    public function testPhpRiShowsTheFigures(): void
    {
        $socket = self::socketPath();
        push_server_start(['listen' => '127.0.0.1:0', 'socket' => $socket]);
        push_send('x', 'y');
        // A worker's php --ri push: the engine's figures, over the socket.
        [$code, $out, $err] = self::command([PHP_BINARY, '-d', "push.socket=$socket", '--ri', 'push']);
        self::assertSame(0, $code, $err);
        self::assertStringContainsString('role => worker', $out);
        foreach ([
            'broker => memory', 'ready => yes', 'broker reconnects => 0',
            'connections (ws) => 0', 'connections (sse) => 0', 'connections (poll) => 0',
            'connections (ipc) => 1', 'connections (pusher) => 0', 'publications => 1', 'deliveries => 0', 'direct writes => 0', 'drops => 0',
            'slow disconnects => 0', 'queued bytes => 0',
        ] as $row) {
            self::assertStringContainsString("$row\n", $out);
        }
        // The engine's own phpinfo().
        ob_start();
        phpinfo(INFO_MODULES);
        $info = ob_get_clean();
        self::assertStringContainsString('role => engine', $info);
        self::assertStringContainsString("broker => memory\n", $info);
        self::assertStringContainsString("ready => yes\n", $info);
        // With no engine: no figures.
        [$code, $out] = self::command([PHP_BINARY, '-d', 'push.socket=' . self::socketPath(), '--ri', 'push']);
        self::assertSame(0, $code);
        self::assertStringContainsString('role => idle', $out);
        self::assertDoesNotMatchRegularExpression('/^broker =>/m', $out);
    }
}
