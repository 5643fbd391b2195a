<?php
/**
 * Worker round trips against a reference in the same run. Run by
 * bench/worker.sh. Starts an engine (bin/push-server) and a PHP echo server
 * on Unix sockets, then runs php/roundtrip.php five times per mode and
 * prints the medians.
 */

[, $so, $n] = $argv + [null, null, '20000'];
$dir = sys_get_temp_dir() . '/push-bench-' . getmypid();
@mkdir($dir);
$php = [PHP_BINARY, '-d', "extension=$so", '-d', "push.socket=$dir/push.sock"];
$root = dirname(__DIR__);
$engine = proc_open(array_merge($php, ["$root/bin/push-server", '--listen=127.0.0.1:0']), [2 => ['pipe', 'w']], $ep);
fgets($ep[2]);
$echo = proc_open([PHP_BINARY, __DIR__ . '/php/echo-server.php', "$dir/ref.sock"], [1 => ['pipe', 'w']], $rp);
fgets($rp[1]);

$run = function (string $mode, int $count) use ($php, $dir): array {
    $results = [];
    for ($i = 0; $i < 5; $i++) {
        $p = proc_open(array_merge($php, [__DIR__ . '/php/roundtrip.php', $mode, (string) $count]), [1 => ['pipe', 'w']], $pipes, null, ['REF_SOCKET' => "$dir/ref.sock"] + getenv());
        $results[] = json_decode(stream_get_contents($pipes[1]), true);
        proc_close($p);
    }
    $median = function (string $k) use ($results) {
        $v = array_column($results, $k);
        sort($v);
        return $v[2];
    };
    return ['p50' => $median('p50_us'), 'p99' => $median('p99_us'), 'mean' => $median('mean_us')];
};

$send = $run('send', (int) $n);
$ref = $run('echo', (int) $n);
$wake = $run('wake', 200);

printf("machine: %d cores, %s, PHP %s; %d calls per run, 5 runs, medians\n", (int) shell_exec('nproc'), trim(explode(':', (string) shell_exec("grep -m1 'model name' /proc/cpuinfo"))[1] ?? '?'), PHP_VERSION, $n);
printf("%-46s %8s %8s %8s\n", '', 'p50 µs', 'p99 µs', 'mean µs');
printf("%-46s %8.1f %8.1f %8.1f\n", 'push_send() from a worker', $send['p50'], $send['p99'], $send['mean']);
printf("%-46s %8.1f %8.1f %8.1f\n", 'reference: PHP Unix-socket echo round trip', $ref['p50'], $ref['p99'], $ref['mean']);
printf("%-46s %8.2f\n", 'ratio push_send() / reference (p50)', $send['p50'] / $ref['p50']);
printf("%-46s %8.1f %8.1f\n", 'push_get_message() wake-up in a worker', $wake['p50'], $wake['p99']);

proc_terminate($engine);
proc_terminate($echo);
proc_close($engine);
proc_close($echo);
exec('rm -rf ' . escapeshellarg($dir));
