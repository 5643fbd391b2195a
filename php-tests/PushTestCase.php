<?php

declare(strict_types=1);

namespace Push\Tests;

use PHPUnit\Framework\TestCase;

abstract class PushTestCase extends TestCase
{
    /** @var list<resource> bin/push-server processes this test started */
    private array $daemons = [];
    /** @var list<array{string, resource, list<resource>, list<string>}> */
    private array $watched = [];
    /** What the watched processes were doing when the test ended. */
    private string $watchReport = '';

    protected function tearDown(): void
    {
        $this->recordWatched();
        push_server_stop();
        foreach ($this->daemons as $proc) {
            $status = proc_get_status($proc);
            if ($status['running']) {
                posix_kill($status['pid'], SIGKILL);
            }
            proc_close($proc);
        }
        $this->daemons = [];
    }

    /**
     * Runs a client script of e2e/ (`$command`, from the repository's
     * root) that prints one JSON object of what it saw, and returns it;
     * fails on a `failure` key or a non-zero exit.
     *
     * @param list<string> $command
     * @return array<string, mixed>
     */
    protected function clientScript(array $command): array
    {
        $proc = proc_open($command, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, dirname(__DIR__));
        self::assertIsResource($proc);
        $this->watch(implode(' ', array_slice($command, 0, 2)), $proc, [$pipes[2]]);
        $out = stream_get_contents($pipes[1]);
        $status = proc_close($proc);
        $seen = json_decode((string) $out, true);
        self::assertIsArray($seen, "the script printed: $out");
        self::assertArrayNotHasKey('failure', $seen, $seen['failure'] ?? '');
        self::assertSame(0, $status);
        return $seen;
    }

    /**
     * Starts bin/push-server on a free port (killed at tearDown); returns
     * [pid, socket, http address].
     */
    protected function daemon(?string $socket = null, array $args = []): array
    {
        $socket ??= self::socketPath();
        $proc = proc_open(
            array_merge([PHP_BINARY, dirname(__DIR__) . '/bin/push-server', '--listen=127.0.0.1:0', "--socket=$socket"], $args),
            [2 => ['pipe', 'w']],
            $pipes,
        );
        self::assertIsResource($proc);
        $this->daemons[] = $proc;
        $this->watch('bin/push-server', $proc, [$pipes[2]]);
        $line = self::firstLine($pipes[2]);
        self::assertMatchesRegularExpression('#listening on http://([0-9.:]+)#', $line);
        preg_match('#http://([0-9.:]+)#', $line, $m);
        return [proc_get_status($proc)['pid'], $socket, $m[1]];
    }

    /**
     * Keeps an eye on a process the test started: if the test fails, the
     * failure is followed by the process's state (running, or how it
     * ended) and the last lines of its output.
     *
     * @param resource $proc
     * @param list<resource> $streams its output pipes that are still open
     * @param list<string> $files files its output goes to
     */
    protected function watch(string $name, $proc, array $streams = [], array $files = []): void
    {
        $this->watched[] = [$name, $proc, $streams, $files];
    }

    /**
     * Notes the state and last output of every watched process. Called
     * first thing in tearDown (a subclass that stops processes before
     * parent::tearDown() calls it itself), so it sees them before they are
     * stopped.
     */
    protected function recordWatched(): void
    {
        foreach ($this->watched as [$name, $proc, $streams, $files]) {
            $state = 'closed by the test';
            if (is_resource($proc)) {
                $s = proc_get_status($proc);
                $state = match (true) {
                    $s['running'] => "running (pid {$s['pid']})",
                    $s['signaled'] => "killed by signal {$s['termsig']}",
                    default => "exited with status {$s['exitcode']}",
                };
            }
            $out = '';
            foreach ($streams as $stream) {
                if (is_resource($stream)) {
                    stream_set_blocking($stream, false);
                    $out .= (string) stream_get_contents($stream, 1 << 20);
                }
            }
            foreach ($files as $file) {
                if (is_readable($file)) {
                    $out .= "[$file]\n" . file_get_contents($file);
                }
            }
            $lines = array_slice(explode("\n", rtrim($out)), -40);
            $this->watchReport .= "--- $name: $state\n" . ($out === '' ? '(no output)' : implode("\n", $lines)) . "\n";
        }
        $this->watched = [];
    }

    /** A failed test shows what the processes it started were doing. */
    protected function onNotSuccessfulTest(\Throwable $t): never
    {
        $this->recordWatched();
        if ($this->watchReport !== '') {
            fwrite(STDERR, "\n== processes started by the failed test (" . static::class . "):\n$this->watchReport");
        }
        throw $t;
    }

    /**
     * The first line an engine writes to stderr that is not a warning (an
     * engine warns first when, for one, the open-files limit is lower than
     * its settings need).
     *
     * @param resource $pipe
     */
    protected static function firstLine($pipe): string
    {
        do {
            $line = (string) fgets($pipe);
        } while (str_starts_with($line, 'push: warning:'));
        return $line;
    }

    /** Runs PHP code as a worker of the engine on $socket; returns its output. */
    protected static function worker(string $socket, string $code, float $timeout = 30.0): string
    {
        [$status, $out, $err] = self::php("<?php\n$code", ['-d', "push.socket=$socket"], $timeout);
        self::assertSame(0, $status, "worker failed: $out $err");
        return $out;
    }

    /** A local socket path no other engine uses. */
    protected static function socketPath(): string
    {
        return sys_get_temp_dir() . '/push-test-' . getmypid() . '-' . bin2hex(random_bytes(4)) . '.sock';
    }

    /** Starts an engine in this process on a free port; returns its address. */
    protected static function startEngine(array $options = []): string
    {
        push_server_start(['listen' => '127.0.0.1:0', 'socket' => self::socketPath()] + $options);
        $listen = push_stats()['listen'];
        self::assertIsString($listen);
        return $listen;
    }

    /** CPU seconds (user + system) this process has used. */
    protected static function cpu(): float
    {
        $r = getrusage();
        return $r['ru_utime.tv_sec'] + $r['ru_utime.tv_usec'] / 1e6
            + $r['ru_stime.tv_sec'] + $r['ru_stime.tv_usec'] / 1e6;
    }

    /**
     * Runs PHP code in a fresh process (with the same extension), returns
     * [exit code, stdout, stderr]. Killed after $timeout seconds.
     *
     * @param list<string> $args extra php arguments (such as -d settings)
     */
    protected static function php(string $code, array $args = [], float $timeout = 30.0): array
    {
        $file = tempnam(sys_get_temp_dir(), 'push-test-');
        file_put_contents($file, $code);
        try {
            $isolated = ['-d', 'push.socket=' . self::socketPath()];
            return self::command(array_merge([PHP_BINARY], $isolated, $args, [$file]), $timeout);
        } finally {
            unlink($file);
        }
    }

    /** Runs a command; returns [exit code, stdout, stderr]. */
    protected static function command(array $cmd, float $timeout = 30.0): array
    {
        $proc = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        self::assertIsResource($proc);
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        $out = $err = '';
        $deadline = microtime(true) + $timeout;
        while (true) {
            $out .= stream_get_contents($pipes[1]);
            $err .= stream_get_contents($pipes[2]);
            $status = proc_get_status($proc);
            if (!$status['running']) {
                break;
            }
            if (microtime(true) > $deadline) {
                proc_terminate($proc, SIGKILL);
                self::fail("timed out after {$timeout}s: " . implode(' ', $cmd) . "\nstdout: $out\nstderr: $err");
            }
            usleep(10_000);
        }
        $out .= stream_get_contents($pipes[1]);
        $err .= stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        proc_close($proc);
        return [$status['exitcode'], $out, $err];
    }

    /**
     * The php-fpm of the PHP running the tests: $PHP_FPM, else the
     * distribution's versioned binary (Debian: /usr/sbin/php-fpm8.4), else
     * php-fpm on PATH. Without -c it reads its own php.ini, and the scan
     * directory PHP_INI_SCAN_DIR names (scripts/test.sh points it at this
     * build).
     */
    protected static function fpmBinary(): string
    {
        $version = PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION;
        $candidates = array_filter([
            getenv('PHP_FPM') ?: null,
            "/usr/sbin/php-fpm$version",
            "/usr/local/sbin/php-fpm",
            "/usr/sbin/php-fpm",
        ]);
        foreach ($candidates as $path) {
            if (is_executable($path)) {
                return $path;
            }
        }
        self::fail('no php-fpm for PHP ' . $version . ' (tried ' . implode(', ', $candidates) . '): install php' . $version . '-fpm or set PHP_FPM');
    }

    /**
     * Starts a redis-server on a free loopback port, with no persistence
     * (killed at tearDown); returns its URL.
     */
    protected function redisServer(): string
    {
        $port = self::freePort();
        $proc = proc_open(
            ['redis-server', '--port', (string) $port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
            [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
        );
        self::assertIsResource($proc, 'redis-server must be installed (scripts/test.sh installs it)');
        $this->daemons[] = $proc;
        $this->watch('redis-server', $proc, [$pipes[1], $pipes[2]]);
        self::waitForPort($port);
        return "redis://127.0.0.1:$port/0";
    }

    /** A TCP port nobody listens on (now). */
    protected static function freePort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
        fclose($s);
        return $port;
    }

    /** Waits (at most 10 s) until something listens on $port. */
    protected static function waitForPort(int $port): void
    {
        $deadline = microtime(true) + 10;
        while (microtime(true) < $deadline) {
            $s = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 0.2);
            if ($s) {
                fclose($s);
                return;
            }
            usleep(50_000);
        }
        self::fail("nothing listens on port $port");
    }

    /** GET over HTTP/1.0 from the engine; returns [status, body]. */
    protected static function httpGet(string $addr, string $path): array
    {
        $ctx = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => 5]]);
        $body = @file_get_contents("http://$addr$path", false, $ctx);
        self::assertNotFalse($body, "GET http://$addr$path failed");
        preg_match('#^HTTP/\S+ (\d+)#', $http_response_header[0] ?? '', $m);
        return [(int) ($m[1] ?? 0), $body];
    }
}
