<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * php-fpm workers (the distribution's php-fpm of this PHP, behind nginx) publishing to and
 * waiting on one engine process (bin/push-server) through push.socket — configured from the
 * deployment recipe of docs/deploying.md (examples/fpm/pool.conf, examples/fpm/nginx.conf,
 * the ExecStart of examples/push-server.service), with only ports, paths and the user
 * substituted, so the recipe is what this test runs.
 */
final class FpmTest extends PushTestCase
{
    private const ROOT = __DIR__ . '/..';
    private const WORKERS = 4;
    private const MAX_REQUESTS = 50;

    private string $dir;
    private string $socket;
    private string $engine;
    private string $web;
    private string $probe;
    /** @var array<string, resource> */
    private array $procs = [];

    protected function setUp(): void
    {
        $this->dir = sys_get_temp_dir() . '/push-fpm-' . getmypid() . '-' . bin2hex(random_bytes(3));
        mkdir($this->dir);
        $this->socket = "$this->dir/push.sock";
        $this->engine = $this->startEngineDaemon();
        $fpm = self::freePort();
        $web = self::freePort();
        $root = posix_getuid() === 0;
        // The pool of the recipe (examples/fpm/pool.conf), with this test's
        // port, socket, user, and fewer workers recycled sooner.
        $pool = self::recipe('examples/fpm/pool.conf', [
            'listen = 127.0.0.1:9000' => "listen = 127.0.0.1:$fpm",
            'php_admin_value[push.socket] = /run/push/push.sock' => "php_admin_value[push.socket] = $this->socket",
            'pm.max_children = 4' => 'pm.max_children = ' . self::WORKERS,
            'pm.max_requests = 500' => 'pm.max_requests = ' . self::MAX_REQUESTS,
            "user = www-data\ngroup = www-data\n" => $root ? "user = root\ngroup = root\n" : '',
            ';php_admin_value[push.mercure_public_url] = https://push.example.com/.well-known/mercure'
                => "php_admin_value[push.mercure_public_url] = http://127.0.0.1:$web/.well-known/mercure",
        ]);
        file_put_contents("$this->dir/fpm.conf", <<<CONF
            [global]
            error_log = $this->dir/fpm.log
            daemonize = no
            pid = $this->dir/fpm.pid

            CONF . $pool);
        $this->spawn('fpm', [self::fpmBinary(), '-F', '-R', '-y', "$this->dir/fpm.conf"]);
        self::waitForPort($fpm);
        $probe = self::freePort();
        // The site of the recipe (examples/fpm/nginx.conf), with this test's
        // ports and paths; fastcgi_params beside nginx.conf, as in /etc/nginx.
        $site = self::recipe('examples/fpm/nginx.conf', [
            'listen 80;' => "listen 127.0.0.1:$web;",
            'root /opt/push/examples/fpm;' => 'root ' . realpath(self::ROOT . '/examples/fpm') . ';',
            'root /opt/push/examples;' => 'root ' . realpath(self::ROOT . '/examples') . ';',
            'server 127.0.0.1:9000;' => "server 127.0.0.1:$fpm;",
            'server 127.0.0.1:8080;' => "server $this->engine;",
        ]);
        file_put_contents("$this->dir/site.conf", $site);
        copy('/etc/nginx/fastcgi_params', "$this->dir/fastcgi_params");
        $fixtures = realpath(__DIR__ . '/fixtures');
        $nginxUser = $root ? 'user root;' : '';
        file_put_contents("$this->dir/nginx.conf", <<<CONF
            $nginxUser
            daemon off;
            worker_processes 1;
            pid $this->dir/nginx.pid;
            error_log $this->dir/nginx-error.log;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path $this->dir/body;
                fastcgi_temp_path $this->dir/fastcgi;
                proxy_temp_path $this->dir/proxy;
                uwsgi_temp_path $this->dir/uwsgi;
                scgi_temp_path $this->dir/scgi;
                include $this->dir/site.conf;
                server {
                    listen 127.0.0.1:$probe;
                    location = /probe.php {
                        include fastcgi_params;
                        fastcgi_param SCRIPT_FILENAME $fixtures/fpm-probe.php;
                        fastcgi_pass 127.0.0.1:$fpm;
                    }
                }
            }
            CONF);
        $this->spawn('nginx', ['/usr/sbin/nginx', '-c', "$this->dir/nginx.conf", '-p', $this->dir]);
        self::waitForPort($web);
        $this->web = "127.0.0.1:$web";
        $this->probe = "127.0.0.1:$probe";
    }

    /**
     * A recipe file of the repository with each of $replace's keys replaced
     * by its value; fails if a key is not in the file, so the recipe and
     * this test cannot drift apart.
     *
     * @param array<string, string> $replace
     */
    private static function recipe(string $path, array $replace): string
    {
        $text = (string) file_get_contents(self::ROOT . '/' . $path);
        foreach ($replace as $from => $to) {
            self::assertSame(1, substr_count($text, $from), "$path holds '$from' once (FpmTest substitutes it)");
            $text = str_replace($from, $to, $text);
        }
        return $text;
    }

    protected function tearDown(): void
    {
        $this->recordWatched();
        foreach ($this->procs as $proc) {
            $status = proc_get_status($proc);
            if ($status['running']) {
                posix_kill($status['pid'], SIGTERM);
            }
        }
        foreach ($this->procs as $proc) {
            proc_close($proc);
        }
        exec('rm -rf ' . escapeshellarg($this->dir));
        parent::tearDown();
    }

    /**
     * Starts a process; its output goes to $this->dir/NAME.out unless
     * $descriptors says otherwise, and a failed test shows it.
     *
     * @return array<int, resource>
     */
    private function spawn(string $name, array $cmd, ?array $descriptors = null): array
    {
        $out = "$this->dir/$name.out";
        $proc = proc_open($cmd, $descriptors ?? [1 => ['file', $out, 'a'], 2 => ['file', $out, 'a']], $pipes, self::ROOT);
        self::assertIsResource($proc, $name);
        $this->procs[$name] = $proc;
        $logs = ['fpm' => ["$this->dir/fpm.log"], 'nginx' => ["$this->dir/nginx-error.log"]][$name] ?? [];
        $this->watch($name, $proc, array_values(array_filter($pipes, fn ($p, $fd) => $fd > 0, ARRAY_FILTER_USE_BOTH)), $descriptors === null ? [$out, ...$logs] : $logs);
        return $pipes;
    }

    /**
     * Starts the engine as examples/push-server.service does (its ExecStart,
     * with this PHP, this checkout and this test's socket), on $listen;
     * returns its HTTP address.
     */
    private function startEngineDaemon(string $listen = '127.0.0.1:0'): string
    {
        $unit = (string) file_get_contents(self::ROOT . '/examples/push-server.service');
        self::assertMatchesRegularExpression('#^RuntimeDirectory=push$#m', $unit);
        self::assertMatchesRegularExpression('#^LimitNOFILE=\d+$#m', $unit);
        self::assertSame(1, preg_match('#^ExecStart=(.*)$#m', $unit, $m), 'the unit has one ExecStart');
        $replace = [
            '/usr/bin/php' => PHP_BINARY,
            '/opt/push/bin/push-server' => 'bin/push-server',
            '--listen=127.0.0.1:8080' => "--listen=$listen",
            '--socket=/run/push/push.sock' => "--socket=$this->socket",
        ];
        $cmd = preg_split('/\s+/', trim($m[1]));
        self::assertSame(array_keys($replace), array_values(array_intersect($cmd, array_keys($replace))), 'the unit\'s ExecStart holds what FpmTest substitutes');
        $cmd = array_map(fn (string $part): string => $replace[$part] ?? $part, $cmd);
        // The Mercure hub of examples/mercure/, with its keys.
        $mercure = require self::ROOT . '/examples/mercure/config.php';
        $cmd = array_merge($cmd, [
            '--mercure=On',
            '--mercure_anonymous=On',
            '--mercure_publisher_key=' . $mercure['publisher_key'],
            '--mercure_subscriber_key=' . $mercure['subscriber_key'],
        ]);
        $pipes = $this->spawn('engine', $cmd, [2 => ['pipe', 'w']]);
        $line = self::firstLine($pipes[2]);
        self::assertMatchesRegularExpression('#listening on http://([0-9.:]+)#', $line);
        preg_match('#http://([0-9.:]+)#', $line, $m);
        return $m[1];
    }

    private function get(string $path, ?string $host = null): array
    {
        $host ??= $this->web;
        $ctx = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => 30]]);
        $body = file_get_contents("http://$host$path", false, $ctx);
        preg_match('#^HTTP/\S+ (\d+)#', $http_response_header[0] ?? '', $m);
        return [(int) ($m[1] ?? 0), (string) $body, $http_response_header ?? []];
    }

    /** Starts push-loadgen as a subscriber; returns its pipes once it is connected. */
    private function subscriber(string $name, string $transport, string $path, int $expect): array
    {
        $bin = self::ROOT . '/target/release/push-loadgen';
        self::assertFileExists($bin, 'built by scripts/test.sh');
        $pipes = $this->spawn($name, [$bin, 'subscribe', '--transport', $transport, '--addr', $this->engine, '--path', $path, '--expect', (string) $expect, '--timeout', '90'], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']]);
        self::assertSame("ready\n", fgets($pipes[2]), "$name connected");
        return $pipes;
    }

    public function testTwoThousandPublicationsThroughRecycledWorkersReachEverySubscriberInOrder(): void
    {
        $channels = ['c0', 'c1', 'c2', 'c3'];
        $query = 'channel=' . implode('&channel=', $channels);
        $ws = $this->subscriber('ws', 'ws', "/ws?$query&format=raw", 2000);
        $sse = $this->subscriber('sse', 'sse', "/sse?$query", 2000);
        // Four clients, one per channel, 500 requests each, in parallel.
        $loaders = [];
        foreach ($channels as $channel) {
            $code = <<<PHP
                <?php
                \$pids = []; \$failed = 0;
                for (\$i = 0; \$i < 500; \$i++) {
                    \$body = file_get_contents("http://$this->web/publish.php?channel=$channel&message=$channel:\$i");
                    if (\$body === false || !str_contains(\$body, '"id"')) { \$failed++; }
                    foreach (\$http_response_header as \$h) { if (stripos(\$h, 'X-Worker-Pid:') === 0) { \$pids[trim(substr(\$h, 13))] = 1; } }
                }
                echo json_encode(['failed' => \$failed, 'pids' => array_keys(\$pids)]);
                PHP;
            $file = "$this->dir/load-$channel.php";
            file_put_contents($file, $code);
            $loaders[$channel] = proc_open([PHP_BINARY, $file], [1 => ['pipe', 'w']], $pipes);
            $loaders[$channel] = [$loaders[$channel], $pipes[1]];
        }
        $pids = [];
        foreach ($loaders as $channel => [$proc, $out]) {
            $result = json_decode(stream_get_contents($out), true, 512, JSON_THROW_ON_ERROR);
            proc_close($proc);
            self::assertSame(0, $result['failed'], "$channel: every push_send() succeeded");
            $pids += array_flip($result['pids']);
        }
        self::assertGreaterThanOrEqual(2000 / self::MAX_REQUESTS, count($pids), 'workers were recycled during the test (pm.max_requests)');
        foreach (['ws' => $ws, 'sse' => $sse] as $name => $pipes) {
            $data = json_decode(stream_get_contents($pipes[1]), true, 512, JSON_THROW_ON_ERROR);
            self::assertCount(2000, $data, "$name received every message");
            $seen = [];
            foreach ($data as $d) {
                [$channel, $seq] = explode(':', $d);
                $seen[$channel][] = (int) $seq;
            }
            foreach ($channels as $channel) {
                self::assertSame(range(0, 499), $seen[$channel], "$name: $channel in order, none missing or twice");
            }
        }
    }

    public function testAWorkerStartsNoThreads(): void
    {
        [$status, $body] = $this->get('/probe.php', $this->probe);
        self::assertSame(200, $status, $body);
        $probe = json_decode($body, true, 512, JSON_THROW_ON_ERROR);
        self::assertSame(1, $probe['before']);
        self::assertSame(1, $probe['after'], 'push_send() from a worker starts no thread');
    }

    public function testStreamAndPollInWorkersReceiveFromOtherWorkersAndHttp(): void
    {
        $stream = fopen("http://$this->web/stream.php?channel=live", 'r', false, stream_context_create(['http' => ['timeout' => 20, 'protocol_version' => 1.0]]));
        self::assertIsResource($stream);
        self::assertSame("retry: 2000\n", fgets($stream));
        fgets($stream);
        // stream.php's first wait starts at the next publication: give it a moment to reach the engine.
        usleep(300_000);
        [$status, $body] = $this->get('/publish.php?channel=live&message=' . urlencode("from a worker\nsecond line"));
        self::assertSame(200, $status, $body);
        $id = json_decode($body, true)['id'];
        $ctx = stream_context_create(['http' => ['method' => 'POST', 'header' => "Content-Type: text/plain\r\n", 'content' => 'from http', 'timeout' => 5]]);
        $posted = json_decode((string) file_get_contents("http://$this->engine/publish/live", false, $ctx), true)['id'];
        $events = '';
        while (substr_count($events, "\n\n") < 2 && ($line = fgets($stream)) !== false) {
            if (!str_starts_with($line, ':') && !($line === "\n" && $events === '')) {
                $events .= $line;
            }
        }
        fclose($stream);
        self::assertSame("id: $id\ndata: from a worker\ndata: second line\n\nid: $posted\ndata: from http\n\n", $events);

        // poll.php: at once from history, and waiting for the next one.
        [, $body] = $this->get('/poll.php?channel=live&since=' . urlencode($id));
        self::assertSame(['id' => $posted, 'data' => 'from http', 'event' => null, 'lost' => false], json_decode($body, true));
        $waiter = proc_open([PHP_BINARY, '-r', "echo file_get_contents('http://$this->web/poll.php?channel=live&since=$posted');"], [1 => ['pipe', 'w']], $pipes);
        usleep(300_000);
        $next = json_decode((string) $this->get('/publish.php?channel=live&message=next')[1], true)['id'];
        $answer = json_decode(stream_get_contents($pipes[1]), true);
        proc_close($waiter);
        self::assertSame($next, $answer['id']);
        self::assertSame('next', $answer['data']);
        [$status] = $this->get('/poll.php?channel=bad%20name');
        self::assertSame(400, $status);

        // The engine's own endpoints through the same nginx site (one origin).
        [$status, $body] = $this->get('/poll/live?timeout=0');
        self::assertSame(200, $status, $body);
        self::assertSame($next, json_decode($body, true)['cursor']);
        [$status] = $this->get('/publish/live');
        self::assertSame(403, $status, 'nginx does not proxy POST /publish');
    }

    public function testEngineKilledAndRestartedWhileWorkersPublish(): void
    {
        [$status] = $this->get('/publish.php?message=before');
        self::assertSame(200, $status);
        $oldCursor = json_decode($this->get('/publish.php?message=before-restart')[1], true)['id'];
        $pid = proc_get_status($this->procs['engine'])['pid'];
        posix_kill($pid, SIGKILL);
        proc_close($this->procs['engine']);
        unset($this->procs['engine']);
        [$status, $body] = $this->get('/publish.php?message=during');
        self::assertSame(503, $status, $body);
        self::assertSame('Push\ConnectionException', json_decode($body, true)['class']);
        $this->engine = $this->startEngineDaemon($this->engine); // same port, stale socket replaced
        [$status, $body] = $this->get('/publish.php?message=after');
        self::assertSame(200, $status, $body);
        // A subscriber resuming with a cursor from before the restart is told it lost messages.
        $ctx = stream_context_create(['http' => ['timeout' => 5]]);
        $batch = json_decode((string) file_get_contents("http://$this->engine/poll/news?since=" . urlencode($oldCursor) . '&timeout=0', false, $ctx), true);
        self::assertTrue($batch['lost']);
        self::assertSame(['after'], array_column($batch['messages'], 'data'));
    }

    public function testAWorkerKilledMidWaitLeavesNoWaiter(): void
    {
        $client = proc_open([PHP_BINARY, '-r', "@file_get_contents('http://$this->web/poll.php?channel=quiet');"], [], $pipes);
        $subscribers = fn () => json_decode((string) file_get_contents("http://$this->engine/health"), true)['subscribers'];
        $deadline = microtime(true) + 5;
        while ($subscribers() !== 1 && microtime(true) < $deadline) {
            usleep(50_000);
        }
        self::assertSame(1, $subscribers(), 'a worker waits in poll.php');
        $master = (int) file_get_contents("$this->dir/fpm.pid");
        exec("pkill -KILL -P $master");
        $deadline = microtime(true) + 5;
        while ($subscribers() !== 0 && microtime(true) < $deadline) {
            usleep(50_000);
        }
        self::assertSame(0, $subscribers());
        proc_terminate($client);
        proc_close($client);
    }

    public function testTheMercureExampleBehindNginxAndPhpFpm(): void
    {
        $hub = "http://$this->web/.well-known/mercure";
        [$status, $body, $headers] = $this->get('/mercure/index.php?user=alice');
        self::assertSame(200, $status, $body);
        $headers = implode("\n", $headers);
        self::assertStringContainsString("Link: <$hub>; rel=\"mercure\"", $headers, 'push.mercure_public_url of the pool');
        self::assertSame(1, preg_match('#Set-Cookie: mercureAuthorization=([\w-]+\.[\w-]+\.[\w-]+);#i', $headers, $m), $headers);
        $cookie = $m[1];

        // A browser's stream through nginx, with the page's cookie.
        $socket = stream_socket_client("tcp://$this->web", $errno, $error, 5);
        self::assertIsResource($socket, $error);
        $query = 'topic=' . rawurlencode('https://example.com/news') . '&topic=' . rawurlencode('https://example.com/users/{user}');
        fwrite($socket, "GET /.well-known/mercure?$query HTTP/1.1\r\nHost: $this->web\r\nCookie: mercureAuthorization=$cookie\r\n\r\n");
        stream_set_timeout($socket, 0, 100_000);
        $read = '';
        $deadline = microtime(true) + 5;
        while (!str_contains($read, "\r\n\r\n") && microtime(true) < $deadline) {
            $read .= (string) fread($socket, 8192);
        }
        self::assertStringStartsWith('HTTP/1.1 200', $read);
        self::worker($this->socket, <<<'PHP'
            mercure_publish('https://example.com/news', 'public');
            mercure_publish('https://example.com/users/alice', 'for alice', private: true);
            mercure_publish('https://example.com/users/bob', 'for bob', private: true);
            mercure_publish('https://example.com/news', 'last');
            PHP);
        $deadline = microtime(true) + 10;
        while (!str_contains($read, 'data: last') && microtime(true) < $deadline) {
            $read .= (string) fread($socket, 8192);
        }
        fclose($socket);
        preg_match_all('#^data: (.*)$#m', $read, $data);
        self::assertSame(['public', 'for alice', 'last'], $data[1], 'in order, at once through nginx, and bob\'s not');
    }
}
