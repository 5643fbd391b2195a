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

    /**
     * Starts an example (engine + page server); returns [enginePort, pagePort].
     *
     * @param array<string, string> $env for both
     * @param list<string> $pageArgs php arguments of the page server
     */
    private function example(string $name, array $env = [], array $pageArgs = [], ?int $page = null): array
    {
        $engine = self::freePort();
        [, $pipes] = $this->spawn(
            "examples/$name/server.php",
            [PHP_BINARY, '-d', 'push.socket=' . self::socketPath(), "examples/$name/server.php"],
            ['PUSH_LISTEN' => "127.0.0.1:$engine"] + $env,
        );
        $this->engineIn = $pipes[0];
        do {
            $line = self::line($pipes[2]);
        } while (str_starts_with($line, 'push: warning:'));
        self::assertStringContainsString("engine on", $line);
        $page ??= self::freePort();
        $this->spawn('page server', array_merge([PHP_BINARY], $pageArgs, ['-S', "127.0.0.1:$page", '-t', "examples/$name"]), $env);
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
        [$engine] = $this->example('mercure', $env, ['-d', "push.mercure_public_url=$hub"], $page);
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
