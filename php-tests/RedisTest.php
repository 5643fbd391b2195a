<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * Several engines share channels through Redis (push.broker): a real
 * redis-server on a free loopback port, engines run by bin/push-server,
 * and workers that reach each engine through its own push.socket.
 */
final class RedisTest extends PushTestCase
{
    /** @var resource|null */
    private $redis = null;
    private int $redisPort = 0;

    protected function setUp(): void
    {
        $this->redisPort = self::freePort();
        $this->startRedis();
    }

    protected function tearDown(): void
    {
        parent::tearDown();
        $this->stopRedis();
    }

    private function startRedis(): void
    {
        $this->redis = proc_open(
            ['redis-server', '--port', (string) $this->redisPort, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
            [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
        );
        self::assertIsResource($this->redis, 'redis-server must be installed (scripts/test.sh installs it)');
        $this->watch('redis-server', $this->redis, [$pipes[1], $pipes[2]]);
        self::waitForPort($this->redisPort);
    }

    private function stopRedis(): void
    {
        if ($this->redis !== null) {
            posix_kill(proc_get_status($this->redis)['pid'], SIGKILL);
            proc_close($this->redis);
            $this->redis = null;
        }
    }

    private function url(): string
    {
        return "redis://127.0.0.1:{$this->redisPort}/0";
    }

    /** Starts bin/push-server on this Redis; returns its socket. */
    private function engine(): string
    {
        return $this->daemon(null, ['--broker=' . $this->url()])[1];
    }

    public function testEnginesShareIdsHistoryAndDelivery(): void
    {
        $a = $this->engine();
        $b = $this->engine();
        $first = self::worker($a, "echo push_send('news', 'one');");
        $second = self::worker($a, "echo push_send('news', 'two', ['event' => 'update']);");
        self::assertNotSame($first, $second);

        // A worker of engine B resumes after the first id: the same ids.
        $out = self::worker($b, <<<PHP
            \$m = push_get_message('news', 5.0, '$first');
            echo \$m->id, '|', \$m->event, '|', \$m->data, '|', var_export(\$m->lost, true);
            PHP);
        self::assertSame("$second|update|two|false", $out);

        // This process as a third engine: publishes through Redis, and a
        // worker of engine B receives it.
        self::startEngine(['broker' => $this->url()]);
        $third = push_send('news', 'three');
        $out = self::worker($b, "echo push_get_message('news', 5.0, '$second')?->id;");
        self::assertSame($third, $out);
        $m = push_get_message('news', 5.0, $first);
        self::assertNotNull($m);
        self::assertSame([$second, 'two'], [$m->id, $m->data]);
    }

    /** Waits (at most 10 s) until push_stats() shows the broker in $state. */
    private static function waitForBroker(string $state, bool $ready): void
    {
        $deadline = microtime(true) + 10;
        while ([push_stats()['broker'], push_stats()['ready']] !== [$state, $ready]) {
            self::assertLessThan($deadline, microtime(true), "broker $state within 10 s: " . json_encode(push_stats()));
            usleep(20_000);
        }
    }

    public function testPublishingWhileRedisIsDownThrowsAndRecovers(): void
    {
        self::startEngine(['broker' => $this->url()]);
        self::waitForBroker('connected', true);
        $before = push_send('quiet', 'before');
        $this->stopRedis();
        self::waitForBroker('disconnected', false);
        try {
            push_send('quiet', 'during');
            self::fail('push_send() succeeded with Redis down');
        } catch (\Push\PushException $e) {
            self::assertStringContainsString('Redis broker is unavailable', $e->getMessage());
            self::assertStringContainsString("127.0.0.1:{$this->redisPort}", $e->getMessage());
        }
        // Waiting still works (from this engine's history), and times out.
        self::assertNull(push_get_message('quiet', 0.2, $before));

        $this->startRedis();
        $deadline = microtime(true) + 10;
        while (true) {
            try {
                $after = push_send('quiet', 'after');
                break;
            } catch (\Push\PushException $e) {
                self::assertLessThan($deadline, microtime(true), 'push_send() works again within 10 s: ' . $e->getMessage());
                usleep(50_000);
            }
        }
        self::waitForBroker('connected', true);
        self::assertSame(1, push_stats()['broker_reconnects']);
        // Redis came back empty: the cursor from before is of an old epoch,
        // so the message comes with the loss flag.
        $m = push_get_message('quiet', 5.0, $before);
        self::assertNotNull($m);
        self::assertSame([$after, 'after', true], [$m->id, $m->data, $m->lost]);
    }

    public function testAnInvalidBrokerIsRefusedNamingTheSetting(): void
    {
        try {
            push_server_start(['listen' => '127.0.0.1:0', 'socket' => self::socketPath(), 'broker' => 'http://127.0.0.1:6379']);
            self::fail('an http:// broker was accepted');
        } catch (\ValueError $e) {
            self::assertStringContainsString('push.broker', $e->getMessage());
            self::assertStringContainsString('redis://host:port/db', $e->getMessage());
        }
        [$status, $out] = self::command([PHP_BINARY, '-d', 'push.broker=' . $this->url(), '-d', 'push.redis_prefix=app1', '--ri', 'push']);
        self::assertSame(0, $status);
        self::assertStringContainsString('push.broker => ' . $this->url(), $out);
        self::assertStringContainsString('push.redis_prefix => app1', $out);
    }
}
