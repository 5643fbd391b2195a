<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * The examples in headless Chromium: the browser's own WebSocket, fetch and
 * EventSource receive what PHP publishes with push_send().
 */
final class BrowserTest extends PushTestCase
{
    private const ROOT = __DIR__ . '/..';

    /** @var list<resource> */
    private array $procs = [];
    /** @var array<int, array<int, resource>> */
    private array $pipes = [];
    /** @var resource */
    private $engineIn;
    /** @var resource */
    private $browser;
    /** @var resource */
    private $browserOut;
    /** Where the browser driver's stderr goes. */
    private ?string $driverLog = null;

    protected function tearDown(): void
    {
        $this->recordWatched();
        if ($this->browser ?? null) {
            @fwrite($this->browser, "quit\n");
        }
        foreach ($this->procs as $proc) {
            proc_terminate($proc, SIGKILL);
            proc_close($proc);
        }
        if ($this->driverLog !== null) {
            @unlink($this->driverLog);
        }
        parent::tearDown();
    }

    /**
     * Starts a process with pipes to its stdin, stdout and stderr (or, with
     * $stderrFile, its stderr in that file); a failed test shows its state
     * and last lines.
     *
     * @return array{0: resource, 1: array<int, resource>}
     */
    private function spawn(string $name, array $cmd, array $env = [], ?string $stderrFile = null): array
    {
        $err = $stderrFile === null ? ['pipe', 'w'] : ['file', $stderrFile, 'w'];
        $proc = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => $err], $pipes, self::ROOT, $env + getenv());
        self::assertIsResource($proc, $name);
        $this->procs[] = $proc;
        $this->watch($name, $proc, array_values(array_filter([$pipes[1] ?? null, $pipes[2] ?? null])), $stderrFile === null ? [] : [$stderrFile]);
        return [$proc, $pipes];
    }

    /** Reads a line from $pipe within $timeout seconds. */
    private static function line($pipe, float $timeout = 20.0): string
    {
        stream_set_blocking($pipe, false);
        $buf = '';
        $deadline = microtime(true) + $timeout;
        while (microtime(true) < $deadline) {
            $r = [$pipe];
            $w = $e = null;
            if (stream_select($r, $w, $e, 0, 100_000)) {
                $chunk = fgets($pipe);
                if ($chunk === false && feof($pipe)) {
                    self::fail("the process closed its output (it exited?) before a whole line (got: '$buf')");
                }
                $buf .= (string) $chunk;
                if (str_ends_with($buf, "\n")) {
                    return rtrim($buf, "\n");
                }
            }
        }
        self::fail("no line within {$timeout}s (got: '$buf')");
    }

    /** The local socket of the example's engine. */
    private string $socket = '';

    /**
     * Starts an example (engine + page server); returns [enginePort, pagePort].
     * The page server is `php -S` on the example's folder, with $pageArgs
     * (such as -d settings) and the example's router, if it has one.
     *
     * @param list<string> $pageArgs php arguments of the page server
     * @param array<string, string> $env for both
     */
    private function example(string $name, array $pageArgs = [], array $env = [], ?int $page = null): array
    {
        $engine = self::freePort();
        $this->socket = self::socketPath();
        [, $pipes] = $this->spawn(
            "examples/$name/server.php",
            [PHP_BINARY, '-d', "push.socket=$this->socket", "examples/$name/server.php"],
            ['PUSH_LISTEN' => "127.0.0.1:$engine"] + $env,
        );
        $this->engineIn = $pipes[0];
        do {
            $line = self::line($pipes[2]);
        } while (str_starts_with($line, 'push: warning:'));
        self::assertStringContainsString("engine on", $line);
        $page ??= self::freePort();
        $router = is_file(self::ROOT . "/examples/$name/router.php") ? ["examples/$name/router.php"] : [];
        $this->spawn('page server', [PHP_BINARY, '-d', "push.socket=$this->socket", ...$pageArgs,
            '-S', "127.0.0.1:$page", '-t', "examples/$name", ...$router], $env);
        self::waitForPort($page);
        // The driver's stderr, with Chromium's own (Playwright's pw:browser
        // log), goes to a file: a pipe nobody reads could fill and stall it.
        $this->driverLog = tempnam(sys_get_temp_dir(), 'push-browser-');
        [, $pipes] = $this->spawn('node e2e/browser.mjs (with Chromium)', ['node', 'e2e/browser.mjs'], ['DEBUG' => 'pw:browser'], $this->driverLog);
        $this->browser = $pipes[0];
        $this->browserOut = $pipes[1];
        return [$engine, $page];
    }

    /** Publishes a line through the example's PHP script (push_send()). */
    private function publish(string $line): void
    {
        fwrite($this->engineIn, "$line\n");
    }

    private function browser(string $command): mixed
    {
        fwrite($this->browser, "$command\n");
        $answer = self::line($this->browserOut, 30);
        self::assertStringStartsNotWith('error:', $answer, $command);
        return json_decode($answer, true, 512, JSON_THROW_ON_ERROR);
    }

    public function testWebSocketChat(): void
    {
        [$engine, $page] = $this->example('chat');
        $url = "http://127.0.0.1:$page/index.html?engine=127.0.0.1:$engine";
        $this->browser("open alice $url");
        $this->browser("open bob $url");
        $this->browser('send alice hello from alice');
        self::assertSame(['hello from alice'], $this->browser('wait alice 1'), 'the sender gets its own message');
        self::assertSame(['hello from alice'], $this->browser('wait bob 1'));
        $this->publish('welcome, both of you');
        $this->browser('send bob hi alice');
        $expected = ['hello from alice', 'server: welcome, both of you', 'hi alice'];
        self::assertSame($expected, $this->browser('wait alice 3'));
        self::assertSame($expected, $this->browser('wait bob 3'));

        // Chromium offers permessage-deflate and push accepts it: a message
        // over push.ws_compression_min_size goes both ways compressed (the
        // browser's inflated by the engine, the engine's by the browsers).
        self::assertSame(
            'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
            $this->browser('eval bob socket.extensions'),
        );
        $long = trim(str_repeat('a long line that compresses well ', 20));
        $this->browser("send bob $long");
        $expected[] = $long;
        self::assertSame($expected, $this->browser('wait alice 4'));
        self::assertSame($expected, $this->browser('wait bob 4'));
    }

    public function testLongPoll(): void
    {
        [$engine, $page] = $this->example('longpoll');
        $this->browser("open reader http://127.0.0.1:$page/index.html?engine=127.0.0.1:$engine");
        $this->publish('one');
        self::assertSame(['one'], $this->browser('wait reader 1'));
        // Several at once, while the page is between requests or waiting.
        foreach (['two', 'three', 'four'] as $m) {
            $this->publish($m);
        }
        self::assertSame(['one', 'two', 'three', 'four'], $this->browser('wait reader 4'));
    }

    public function testSseResumesAfterTheConnectionIsCut(): void
    {
        [$engine, $page] = $this->example('sse');
        $proxyPort = self::freePort();
        [, $proxy] = $this->spawn('fixtures/proxy.php', [PHP_BINARY, __DIR__ . '/fixtures/proxy.php', (string) $proxyPort, "127.0.0.1:$engine"]);
        self::assertSame('listening', self::line($proxy[1]));
        $this->browser("open reader http://127.0.0.1:$page/index.html?engine=127.0.0.1:$proxyPort");
        $this->publish('m1');
        $this->publish('m2');
        self::assertSame(['m1', 'm2'], $this->browser('wait reader 2'));
        fwrite($proxy[0], "cut\n");
        self::assertSame('cut 1', self::line($proxy[1]));
        // Published while the browser is disconnected (it waits retry: 2 s).
        $this->publish('m3');
        $this->publish('m4');
        self::assertSame(['m1', 'm2', 'm3', 'm4'], $this->browser('wait reader 4'), 'Last-Event-ID resumed with no gap');
        $this->publish('m5');
        self::assertSame(['m1', 'm2', 'm3', 'm4', 'm5'], $this->browser('wait reader 5'), 'and none twice');
        usleep(300_000);
        self::assertSame(['m1', 'm2', 'm3', 'm4', 'm5'], $this->browser('messages reader'));
    }

    /**
     * A page's messages ("public: order 1") by what precedes ": " (sorted:
     * channels are independent streams), each list in the order it arrived.
     *
     * @param list<string> $messages
     * @return array<string, list<string>>
     */
    private static function byChannel(array $messages): array
    {
        $by = [];
        foreach ($messages as $m) {
            [$channel, $text] = explode(': ', $m, 2) + [1 => ''];
            $by[$channel][] = $text;
        }
        ksort($by);
        return $by;
    }

    /**
     * examples/pusher: Laravel Echo and pusher-js (npm's builds) in two
     * pages; the private and presence channels authorised by the example's
     * /broadcasting/auth (push_pusher_auth()); orders published by
     * publish.php from another PHP process (push_send()), one of them
     * except a page (toOthers()); here() listing both pages; a whisper
     * reaching the other page and not its sender.
     */
    public function testPusherEcho(): void
    {
        foreach (['pusher-js', 'laravel-echo'] as $package) {
            if (!is_dir(self::ROOT . "/e2e/node_modules/$package")) {
                self::fail("run (cd e2e && npm ci) first: $package is missing");
            }
        }
        [$engine, $page] = $this->example('pusher', ['-d', 'push.pusher_app_id=1234',
            '-d', 'push.pusher_key=app-key', '-d', 'push.pusher_secret=app-secret']);
        // The example's /broadcasting/auth: push_pusher_auth()'s answer,
        // mallory refused, what pusher-js never sends a bad request.
        $auth = static function (array $form) use ($page): array {
            $ctx = stream_context_create(['http' => ['method' => 'POST', 'ignore_errors' => true, 'timeout' => 5,
                'header' => 'Content-Type: application/x-www-form-urlencoded', 'content' => http_build_query($form)]]);
            $body = file_get_contents("http://127.0.0.1:$page/broadcasting/auth", false, $ctx);
            preg_match('#^HTTP/\S+ (\d+)#', $http_response_header[0] ?? '', $m);
            return [(int) ($m[1] ?? 0), $body];
        };
        $form = ['socket_id' => '12.34', 'channel_name' => 'private-orders'];
        $signature = hash_hmac('sha256', '12.34:private-orders', 'app-secret');
        self::assertSame([200, json_encode(['auth' => "app-key:$signature"])], $auth($form + ['user' => 'alice']));
        self::assertSame(403, $auth($form + ['user' => 'mallory'])[0]);
        self::assertSame(400, $auth(['socket_id' => 'x', 'user' => 'alice'] + $form)[0]);

        $url = "http://127.0.0.1:$page/index.html?engine=127.0.0.1:$engine";
        $this->browser("open alice $url&user=alice");
        $this->browser("open bob $url&user=bob");
        // here(): bob joined with alice in the room; joining() told alice.
        self::assertSame('Alice, Bob', $this->browser('until bob members Alice, Bob'));
        self::assertSame('Alice, Bob', $this->browser('until alice members Alice, Bob'));

        $ship = function (string $text, ?string $except = null): void {
            [$status, $out, $err] = self::command(array_merge(
                [PHP_BINARY, '-d', "push.socket=$this->socket", 'examples/pusher/publish.php', $text],
                $except === null ? [] : [$except],
            ));
            self::assertSame([0, "shipped\n", ''], [$status, $out, $err]);
        };
        $cwd = getcwd();
        chdir(self::ROOT);
        try {
            $ship('order 1');
            $each = ['private' => ['order 1'], 'public' => ['order 1']];
            self::assertSame($each, self::byChannel($this->browser('wait alice 2')));
            self::assertSame($each, self::byChannel($this->browser('wait bob 2')));

            // A whisper goes to bob, never back to alice.
            $this->browser('send alice hello bob');
            self::assertSame(['alice whispers' => ['hello bob']] + $each, self::byChannel($this->browser('wait bob 3')));
            // Except bob's page (his socket id, as his page's requests send
            // it as X-Socket-ID): alice only.
            $bob = $this->browser('text bob socket');
            self::assertMatchesRegularExpression('/^\d+\.\d+$/', $bob);
            $ship('order 2', $bob);
            $ship('order 3');
            // In order on each channel (channels are independent streams).
            self::assertSame(
                ['private' => ['order 1', 'order 2', 'order 3'], 'public' => ['order 1', 'order 2', 'order 3']],
                self::byChannel($this->browser('wait alice 6')),
                'alice: the orders, and not her own whisper',
            );
            self::assertSame(
                ['alice whispers' => ['hello bob'], 'private' => ['order 1', 'order 3'], 'public' => ['order 1', 'order 3']],
                self::byChannel($this->browser('wait bob 5')),
                'bob: not order 2',
            );
        } finally {
            chdir($cwd);
        }
    }

    public function testMercureEventSourcesAnonymousAndByCookieResumeAfterACut(): void
    {
        $page = self::freePort();
        $proxyPort = self::freePort();
        $hub = "http://127.0.0.1:$proxyPort/.well-known/mercure";
        $env = [
            'PAGE_ORIGIN' => "http://127.0.0.1:$page",
            'MERCURE_PUBLISHER_KEY' => 'browser-test-publisher-key-0123456789abcdef',
            'MERCURE_SUBSCRIBER_KEY' => 'browser-test-subscriber-key-0123456789abcdef',
        ];
        // The page announces the hub through the proxy (push.mercure_public_url).
        [$engine] = $this->example('mercure', ['-d', "push.mercure_public_url=$hub"], $env, $page);
        [, $proxy] = $this->spawn('fixtures/proxy.php', [PHP_BINARY, __DIR__ . '/fixtures/proxy.php', (string) $proxyPort, "127.0.0.1:$engine"]);
        self::assertSame('listening', self::line($proxy[1]));

        $ctx = stream_context_create(['http' => ['timeout' => 5]]);
        self::assertNotFalse(file_get_contents("http://127.0.0.1:$page/index.php?user=alice", false, $ctx));
        $headers = implode("\n", $http_response_header);
        self::assertStringContainsString("Link: <$hub>; rel=\"mercure\"", $headers, 'the discovery header');
        self::assertMatchesRegularExpression('#Set-Cookie: mercureAuthorization=[\w-]+\.[\w-]+\.[\w-]+; .*path=/\.well-known/mercure; .*HttpOnly; SameSite=Strict#i', $headers);

        $this->browser("open anonymous http://127.0.0.1:$page/index.php");
        $this->browser("open alice http://127.0.0.1:$page/index.php?user=alice");
        $this->publish('m1');
        $this->publish('private for alice');
        $this->publish('m2');
        self::assertSame(['m1', 'for alice', 'm2'], $this->browser('wait alice 3'), 'the cookie, sent withCredentials, grants the private topic');
        self::assertSame(['m1', 'm2'], $this->browser('wait anonymous 2'), 'no token, no private update');

        fwrite($proxy[0], "cut\n");
        self::assertSame('cut 2', self::line($proxy[1]));
        // Published while both are disconnected; they come back with Last-Event-ID.
        $this->publish('m3');
        $this->publish('private again');
        $this->publish('m4');
        self::assertSame(['m1', 'for alice', 'm2', 'm3', 'again', 'm4'], $this->browser('wait alice 6'), 'resumed with no gap');
        self::assertSame(['m1', 'm2', 'm3', 'm4'], $this->browser('wait anonymous 4'), 'resumed with no gap');
        $this->publish('m5');
        self::assertSame(['m1', 'for alice', 'm2', 'm3', 'again', 'm4', 'm5'], $this->browser('wait alice 7'), 'and none twice');
        self::assertSame(['m1', 'm2', 'm3', 'm4', 'm5'], $this->browser('wait anonymous 5'), 'and none twice');
        usleep(300_000);
        self::assertSame(['m1', 'm2', 'm3', 'm4', 'm5'], $this->browser('messages anonymous'));
    }
}
