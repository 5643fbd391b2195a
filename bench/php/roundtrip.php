<?php
/**
 * Worker round trips, measured against a reference in the same run.
 *
 *   php -d push.socket=SOCK roundtrip.php MODE N
 *
 * MODE send:  N push_send() calls from this process (a worker) to the engine.
 * MODE echo:  N request/answer round trips of the same size over a Unix
 *             socket to a PHP echo server (REF_SOCKET): the floor cost of a
 *             local round trip from PHP, the reference.
 * MODE wake:  N push_get_message() wake-ups: a forked child publishes a
 *             timestamp every 5 ms; this process measures the delay until
 *             it wakes with it.
 * Prints the median, p99 and mean microseconds per call as JSON.
 */

[, $mode, $n] = $argv + [null, 'send', '20000'];
$n = (int) $n;
$times = [];

if ($mode === 'send') {
    push_send('bench', 'warm-up');
    for ($i = 0; $i < $n; $i++) {
        $t = hrtime(true);
        push_send('bench', 'message payload 32 bytes long...');
        $times[] = hrtime(true) - $t;
    }
} elseif ($mode === 'echo') {
    $c = stream_socket_client('unix://' . getenv('REF_SOCKET'));
    $frame = pack('N', 45) . "\x02\x05bench\x00message payload 32 bytes long...";
    for ($i = 0; $i < $n; $i++) {
        $t = hrtime(true);
        fwrite($c, $frame);
        $answer = fread($c, 64);
        $times[] = hrtime(true) - $t;
    }
} elseif ($mode === 'wake') {
    push_get_message('wake', 0.01); // the cursor starts here
    $pid = pcntl_fork();
    if ($pid === 0) {
        // One long-lived publisher: a message every 5 ms, stamped when sent.
        for ($i = 0; $i < $n; $i++) {
            usleep(5000);
            push_send('wake', (string) hrtime(true));
        }
        exit(0);
    }
    for ($i = 0; $i < $n; $i++) {
        $m = push_get_message('wake', 5);
        $times[] = hrtime(true) - (int) $m->data;
    }
    pcntl_waitpid($pid, $status);
}

sort($times);
$us = fn ($ns) => round($ns / 1000, 1);
echo json_encode([
    'mode' => $mode,
    'n' => count($times),
    'p50_us' => $us($times[intdiv(count($times), 2)]),
    'p99_us' => $us($times[(int) (count($times) * 0.99)]),
    'mean_us' => $us(array_sum($times) / count($times)),
]), "\n";
