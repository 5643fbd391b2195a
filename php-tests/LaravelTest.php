<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * Laravel on push: the `push` broadcasting driver (integrations/laravel)
 * inside Laravel's own broadcasting — Debian's php-illuminate-broadcasting
 * and the php-illuminate-* packages it needs (fixtures/laravel.php) —
 * and push_send()'s `except`, against Laravel Echo 2 over pusher-js 8 in
 * node (e2e/laravel.mjs) and bin/push-server with the Pusher protocol on.
 */
final class LaravelTest extends PushTestCase
{
    private const ROOT = __DIR__ . '/..';
    private const APP_ID = '4242';
    private const KEY = 'app-key';
    private const SECRET = 'app-secret-0123';

    /** @var list<resource> php -S and node processes this test started */
    private array $procs = [];

    protected function setUp(): void
    {
        if (!is_file('/usr/share/php/Illuminate/Broadcasting/autoload.php')) {
            self::fail('Debian\'s php-illuminate-broadcasting is needed: apt-get install php-illuminate-broadcasting '
                . 'php-illuminate-events php-illuminate-config php-illuminate-http (scripts/test.sh does)');
        }
    }

    protected function tearDown(): void
    {
        foreach ($this->procs as $proc) {
            $status = proc_get_status($proc);
            if ($status['running']) {
                posix_kill($status['pid'], SIGKILL);
            }
            proc_close($proc);
        }
        $this->procs = [];
        parent::tearDown();
    }

    /** @return list<string> php -d settings of the Pusher app */
    private static function pusherIni(): array
    {
        return ['-d', 'push.pusher_app_id=' . self::APP_ID, '-d', 'push.pusher_key=' . self::KEY,
            '-d', 'push.pusher_secret=' . self::SECRET];
    }

    /** bin/push-server with the Pusher protocol on: [socket, address]. */
    private function engine(): array
    {
        [, $socket, $address] = $this->daemon(null, [
            '--pusher_app_id=' . self::APP_ID,
            '--pusher_key=' . self::KEY,
            '--pusher_secret=' . self::SECRET,
        ]);
        return [$socket, $address];
    }

    /** Laravel's /broadcasting/auth (fixtures/laravel-auth.php) under php -S, a worker of $socket: its URL. */
    private function authEndpoint(string $socket): string
    {
        $port = self::freePort();
        $proc = proc_open(
            array_merge([PHP_BINARY, '-d', "push.socket=$socket"], self::pusherIni(),
                ['-S', "127.0.0.1:$port", __DIR__ . '/fixtures/laravel-auth.php']),
            [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
            $pipes,
        );
        self::assertIsResource($proc);
        $this->procs[] = $proc;
        $this->watch('php -S (Laravel /broadcasting/auth)', $proc, [$pipes[2]]);
        self::waitForPort($port);
        return "http://127.0.0.1:$port/broadcasting/auth";
    }

    /**
     * Starts e2e/laravel.mjs; returns [its process, stdin, stdout, the
     * socket ids of users one and two] once its pages are subscribed.
     *
     * @return array{resource, resource, resource, array{one: string, two: string}}
     */
    private function echoPages(string $address, string $auth): array
    {
        foreach (['pusher-js', 'laravel-echo'] as $package) {
            if (!is_dir(self::ROOT . "/e2e/node_modules/$package")) {
                self::fail("run (cd e2e && npm ci) first: $package is missing");
            }
        }
        $proc = proc_open(['node', 'e2e/laravel.mjs', $address, self::KEY, $auth],
            [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, self::ROOT);
        self::assertIsResource($proc);
        $this->procs[] = $proc;
        $this->watch('node e2e/laravel.mjs', $proc, [$pipes[2]]);
        $line = (string) fgets($pipes[1]);
        $ready = json_decode($line, true);
        self::assertIsArray($ready, "node printed: $line");
        self::assertArrayNotHasKey('failure', $ready, $ready['failure'] ?? '');
        self::assertArrayHasKey('ready', $ready, $line);
        return [$proc, $pipes[0], $pipes[1], $ready['ready']];
    }

    /**
     * Tells node how many events each page waits for; returns what it saw.
     *
     * @param resource $proc
     * @param resource $stdin
     * @param resource $stdout
     * @return array<string, mixed>
     */
    private static function seen($proc, $stdin, $stdout, int $one, int $two): array
    {
        fwrite($stdin, json_encode(['one' => $one, 'two' => $two]) . "\n");
        fflush($stdin);
        $out = stream_get_contents($stdout);
        $seen = json_decode((string) $out, true);
        self::assertIsArray($seen, "node printed: $out");
        self::assertArrayNotHasKey('failure', $seen, $seen['failure'] ?? '');
        return $seen;
    }

    /**
     * Laravel broadcasting through the driver reaches Echo: an event on a
     * public, a private and a presence channel (its class name), one
     * broadcastAs('order.status') with broadcastWith(), toOthers() from
     * page one's request (X-Socket-ID), and push_send()'s `except` from a
     * worker; the private and presence channels authorised by Laravel's
     * /broadcasting/auth through the driver, user 3 refused.
     */
    public function testBroadcastingReachesEcho(): void
    {
        [$socket, $address] = $this->engine();
        [$node, $stdin, $stdout, $ids] = $this->echoPages($address, $this->authEndpoint($socket));
        $code = <<<'PHP'
            use App\Events\OrderShipped;
            use App\Events\StatusChanged;
            use Illuminate\Broadcasting\BroadcastManager;
            use Push\Tests\Laravel;

            require getenv('FIXTURE');
            [$one, $two] = [getenv('ONE'), getenv('TWO')];
            $app = Laravel\app();
            $broadcast = $app->make(BroadcastManager::class);
            // broadcast(new OrderShipped(…)) in a request without a socket: everyone.
            Laravel\request($app, null);
            $broadcast->event(new OrderShipped(['id' => 1]));
            // broadcast(…)->toOthers() in page one's request.
            Laravel\request($app, $one);
            $broadcast->event(new OrderShipped(['id' => 2]))->toOthers();
            $broadcast->event(new StatusChanged('shipped'));
            // Without Laravel: everyone but page two.
            push_send('orders', '{"order":{"id":3}}', ['event' => 'App\\Events\\OrderShipped', 'except' => $two]);
            echo 'sent';
            PHP;
        putenv('FIXTURE=' . __DIR__ . '/fixtures/laravel.php');
        putenv("ONE={$ids['one']}");
        putenv("TWO={$ids['two']}");
        try {
            self::assertSame('sent', self::worker($socket, $code));
        } finally {
            putenv('FIXTURE');
            putenv('ONE');
            putenv('TWO');
        }
        $seen = self::seen($node, $stdin, $stdout, 5, 7);

        // In order on each channel (channels are independent streams).
        $byChannel = static function (array $got): array {
            $by = [];
            foreach ($got as [$channel, $event, $payload]) {
                $by[$channel][] = [$event, $payload];
            }
            ksort($by);
            return $by;
        };
        $shipped = static fn (int $id): array => ['OrderShipped', ['order' => ['id' => $id]]];
        $status = ['order.status', ['status' => 'shipped']];
        self::assertSame([
            'orders' => [$shipped(1), $shipped(3)],
            'presence-room.1' => [$shipped(1)],
            'private-orders.1' => [$shipped(1), $status],
        ], $byChannel($seen['got']['one']), 'page one: not the toOthers() broadcast of its own request');
        self::assertSame([
            'orders' => [$shipped(1), $shipped(2)],
            'presence-room.1' => [$shipped(1), $shipped(2)],
            'private-orders.1' => [$shipped(1), $shipped(2), $status],
        ], $byChannel($seen['got']['two']), 'page two: not what push_send() sent except it');
        // The presence channel, authorised by the driver: Laravel's user_info.
        self::assertSame([['id' => 1, 'name' => 'user 1'], ['id' => 2, 'name' => 'user 2']], $seen['here']);
        // User 3: the channel route says no; Laravel answers 403.
        self::assertSame('AuthError', $seen['refused']['type']);
        self::assertSame(403, $seen['refused']['status']);
    }

    /**
     * push_send()'s `except` in the engine's own process (no local socket):
     * each page is left out of the one publication made except it.
     */
    public function testExceptInTheEngineProcess(): void
    {
        $socket = self::socketPath();
        push_server_start(['listen' => '127.0.0.1:0', 'socket' => $socket, 'pusher_app_id' => self::APP_ID,
            'pusher_key' => self::KEY, 'pusher_secret' => self::SECRET]);
        $address = push_stats()['listen'];
        self::assertIsString($address);
        [$node, $stdin, $stdout, $ids] = $this->echoPages($address, $this->authEndpoint($socket));
        push_send('orders', '{"order":{"id":1}}', ['event' => 'App\Events\OrderShipped', 'except' => $ids['one']]);
        push_send('private-orders.1', '{"status":"done"}', ['event' => 'order.status', 'except' => $ids['two']]);
        $seen = self::seen($node, $stdin, $stdout, 1, 1);
        self::assertSame([['private-orders.1', 'order.status', ['status' => 'done']]], $seen['got']['one']);
        self::assertSame([['orders', 'OrderShipped', ['order' => ['id' => 1]]]], $seen['got']['two']);
    }

    /**
     * The driver's /broadcasting/auth answers are byte for byte those of
     * Laravel's pusher broadcaster with pusher-php-server 7 (computed here
     * with hash_hmac), and it refuses as Laravel does: 403.
     */
    public function testAuthAnswersAsLaravelsPusherBroadcaster(): void
    {
        $code = <<<'PHP'
            use Illuminate\Broadcasting\BroadcastManager;
            use Push\Tests\Laravel;
            use Symfony\Component\HttpKernel\Exception\HttpException;

            require getenv('FIXTURE');
            $broadcast = Laravel\app()->make(BroadcastManager::class);
            $out = [];
            foreach ([
                'private' => ['123.456', 'private-orders.1', 1],
                'presence' => ['123.456', 'presence-room.1', 2],
                'other user' => ['123.456', 'private-orders.1', 3],
                'guest' => ['123.456', 'presence-room.1', null],
                'public' => ['123.456', 'orders', 1],
                'no route' => ['123.456', 'private-unrouted', 1],
                'bad socket id' => ['123', 'private-orders.1', 1],
            ] as $case => [$socket, $channel, $user]) {
                try {
                    $out[$case] = json_encode($broadcast->auth(Laravel\authRequest($socket, $channel, $user)));
                } catch (HttpException $e) {
                    $out[$case] = $e->getStatusCode();
                }
            }
            echo json_encode($out);
            PHP;
        putenv('FIXTURE=' . __DIR__ . '/fixtures/laravel.php');
        try {
            [$status, $stdout, $stderr] = self::php("<?php\n$code", self::pusherIni());
        } finally {
            putenv('FIXTURE');
        }
        self::assertSame(0, $status, $stdout . $stderr);
        self::assertSame('', $stderr);
        $out = json_decode($stdout, true);
        self::assertIsArray($out, $stdout);

        $sign = static fn (string $message): string => self::KEY . ':' . hash_hmac('sha256', $message, self::SECRET);
        self::assertSame(json_encode(['auth' => $sign('123.456:private-orders.1')]), $out['private']);
        $data = json_encode(['user_id' => '2', 'user_info' => ['id' => 2, 'name' => 'user 2']]);
        self::assertSame(
            json_encode(['auth' => $sign("123.456:presence-room.1:$data"), 'channel_data' => $data]),
            $out['presence'],
        );
        // Refusals: the channel route says no, no user, no route for the
        // channel (public ones need no auth) — each Laravel's 403.
        self::assertSame(403, $out['other user']);
        self::assertSame(403, $out['guest']);
        self::assertSame(403, $out['public']);
        self::assertSame(403, $out['no route']);
        // What pusher-js never sends is a bad request.
        self::assertSame(400, $out['bad socket id']);
    }

    /**
     * A socket id push_send() cannot mean is a ValueError; the driver
     * makes it, and an engine that does not answer, a BroadcastException.
     */
    public function testRefusals(): void
    {
        $code = <<<'PHP'
            use App\Events\OrderShipped;
            use Illuminate\Broadcasting\BroadcastException;
            use Illuminate\Broadcasting\BroadcastManager;
            use Push\Tests\Laravel;

            require getenv('FIXTURE');
            $out = [];
            foreach (['abc', '1.', '.1', '1.2.3', ' 1.2', '1.2' . str_repeat('3', 70), '12'] as $bad) {
                try {
                    push_send('orders', 'x', ['except' => $bad]);
                    $out[] = "sent with $bad";
                } catch (ValueError $e) {
                    $out[] = $e->getMessage();
                }
            }
            $app = Laravel\app();
            Laravel\request($app, 'not-a-socket');
            try {
                $app->make(BroadcastManager::class)->event(new OrderShipped(['id' => 1]))->toOthers();
                $out[] = 'broadcast';
            } catch (BroadcastException $e) {
                $out[] = get_class($e->getPrevious()) . ': ' . $e->getMessage();
            }
            Laravel\request($app, null);
            try {
                $app->make(BroadcastManager::class)->event(new OrderShipped(['id' => 1]));
                $out[] = 'broadcast';
            } catch (BroadcastException $e) {
                $out[] = get_class($e->getPrevious());
            }
            echo json_encode($out);
            PHP;
        putenv('FIXTURE=' . __DIR__ . '/fixtures/laravel.php');
        try {
            // No engine on this socket.
            [$status, $stdout, $stderr] = self::php("<?php\n$code");
        } finally {
            putenv('FIXTURE');
        }
        self::assertSame(0, $status, $stdout . $stderr);
        $out = json_decode($stdout, true);
        self::assertIsArray($out, $stdout);
        $valueError = 'push_send(): Argument #3 ($options) ["except"] must be a Pusher socket id (digits.digits, as pusher-js sends it)';
        self::assertSame(array_fill(0, 7, $valueError), array_slice($out, 0, 7));
        self::assertSame("ValueError: push error: $valueError.", $out[7]);
        self::assertSame('Push\ConnectionException', $out[8]);
    }
}
