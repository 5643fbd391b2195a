<?php
/**
 * Scenario 7 of bench/run.sh: publishing and waking from PHP, push against
 * phpredis + redis-server. One run of one mode; prints one JSON object.
 *
 *   php -d extension=libpush.so -d push.socket=SOCK php-send.php MODE N
 *
 * MODE engine-send   N push_send() in the engine process (push_server_start()
 *                    here, on port 0 and push.socket)
 * MODE worker-send   N push_send() from a worker: the engine is another
 *                    process (bin/push-server) answering on push.socket
 * MODE redis-publish N phpredis PUBLISH to redis-server on 127.0.0.1:REDIS_PORT
 * MODE engine-wake   N push_get_message() wake-ups in the engine process; a
 *                    forked child (a worker over push.socket) publishes a
 *                    hrtime() stamp every 5 ms
 * MODE worker-wake   the same with the engine in another process: both the
 *                    waiter and the publisher are workers
 * MODE redis-wake    the same with phpredis: SUBSCRIBE in this process,
 *                    PUBLISH from the forked child
 *
 * The message is 32 bytes (the wake modes send a hrtime() stamp). Nobody
 * subscribes in the send modes (push still keeps its history of 100).
 * Output: {mode, n, calls_per_s, p50_us, p99_us, mean_us}; calls_per_s is
 * N / the whole loop's time. Every loop is bounded by N and by a deadline.
 */

[, $mode, $n] = $argv + [null, 'engine-send', '20000'];
$n = max(1, (int) $n);
$payload = 'message payload 32 bytes long...';
$deadline = hrtime(true) + 60_000_000_000;   // 60 s for any one run
$times = [];

function redis_connect(): Redis
{
    $r = new Redis();
    $r->connect('127.0.0.1', (int) getenv('REDIS_PORT'), 2.0);
    return $r;
}

/** Forks a publisher: a stamp every 5 ms, $n times. Returns its pid. */
function fork_publisher(int $n, callable $publish): int
{
    $pid = pcntl_fork();
    if ($pid === -1) {
        fwrite(STDERR, "fork failed\n");
        exit(1);
    }
    if ($pid === 0) {
        usleep(100_000);   // the waiter is waiting by then
        for ($i = 0; $i < $n; $i++) {
            usleep(5000);
            $publish((string) hrtime(true));
        }
        exit(0);
    }
    return $pid;
}

$start = hrtime(true);
switch ($mode) {
    case 'engine-send':
    case 'worker-send':
        if ($mode === 'engine-send') {
            set_time_limit(0);
            push_server_start(['listen' => '127.0.0.1:0']);
        }
        push_send('bench', 'warm-up');
        $start = hrtime(true);
        for ($i = 0; $i < $n && hrtime(true) < $deadline; $i++) {
            $t = hrtime(true);
            push_send('bench', $payload);
            $times[] = hrtime(true) - $t;
        }
        break;

    case 'redis-publish':
        $r = redis_connect();
        $r->publish('bench', 'warm-up');
        $start = hrtime(true);
        for ($i = 0; $i < $n && hrtime(true) < $deadline; $i++) {
            $t = hrtime(true);
            $r->publish('bench', $payload);
            $times[] = hrtime(true) - $t;
        }
        break;

    case 'engine-wake':
    case 'worker-wake':
        if ($mode === 'engine-wake') {
            set_time_limit(0);
            push_server_start(['listen' => '127.0.0.1:0']);
        }
        push_get_message('wake', 0.01);   // this process's cursor starts here
        $pid = fork_publisher($n, fn (string $m) => push_send('wake', $m));
        $start = hrtime(true);
        for ($i = 0; $i < $n && hrtime(true) < $deadline; $i++) {
            $m = push_get_message('wake', 5);
            if ($m === null) {
                break;
            }
            $times[] = hrtime(true) - (int) $m->data;
        }
        pcntl_waitpid($pid, $status);
        break;

    case 'redis-wake':
        $r = redis_connect();
        // phpredis 5.3 has no way out of subscribe() (neither returning false
        // nor unsubscribe() in the callback ends it): a short read timeout
        // ends it once the publisher has stopped; the callback throws to end
        // it at once after the last sample.
        $r->setOption(Redis::OPT_READ_TIMEOUT, 0.5);
        $pid = fork_publisher($n, function (string $m) {
            static $pub = null;
            $pub ??= redis_connect();
            $pub->publish('wake', $m);
        });
        $start = hrtime(true);
        try {
            $r->subscribe(['wake'], function ($redis, $channel, $message) use (&$times, $n, $deadline) {
                $times[] = hrtime(true) - (int) $message;
                if (count($times) >= $n || hrtime(true) > $deadline) {
                    throw new LogicException('done');
                }
            });
        } catch (LogicException | RedisException $e) {
            // the end of the run
        }
        pcntl_waitpid($pid, $status);
        break;

    default:
        fwrite(STDERR, "unknown mode $mode\n");
        exit(2);
}
$elapsed = hrtime(true) - $start;

if (!$times) {
    fwrite(STDERR, "$mode: no sample\n");
    exit(1);
}
if ($mode === 'engine-send' || $mode === 'engine-wake') {
    push_server_stop();
}
sort($times);
$us = fn ($ns) => round($ns / 1000, 1);
echo json_encode([
    'mode' => $mode,
    'n' => count($times),
    'calls_per_s' => str_ends_with($mode, 'wake') ? null : round(count($times) / ($elapsed / 1e9)),
    'p50_us' => $us($times[intdiv(count($times), 2)]),
    'p99_us' => $us($times[min(count($times) - 1, (int) (count($times) * 0.99))]),
    'mean_us' => $us(array_sum($times) / count($times)),
]), "\n";
