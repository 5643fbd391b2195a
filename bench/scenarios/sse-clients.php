<?php
/**
 * A small SSE load client for the tutorial scenario of bench/run.sh: the
 * same measurement against the tutorial's stream.php under php-fpm, push's
 * examples/fpm/stream.php under php-fpm, and the engine's /sse/{channel}.
 *
 *   php sse-clients.php --url http://HOST:PORT/PATH --clients N --messages M
 *       --interval S --publish file:PATH|http:URL [--connect-wait S]
 *       [--pids PID,...] [--label NAME]
 *
 * Opens N connections at once (Accept: text/event-stream), waits
 * --connect-wait seconds, counts the connections that got their response
 * headers, then publishes M messages "m{seq}:{µs since the
 * epoch}" every S seconds — by rewriting the file (atomic rename) or by
 * POST — and reads the raw streams meanwhile: a message counts when
 * "data: m{seq}:{stamp}" arrives, its latency is arrival minus stamp. It
 * reads the raw bytes, so the tutorial's unterminated `data: … ` counts as
 * well (a browser would never dispatch it). "held": the connections that
 * got their response by the end (a server process or the engine served
 * them; the others waited in php-fpm's queue all along). The tutorial's
 * loop sends its headers with its first message only (flush() sends nothing
 * before there is output), so this is counted at the end.
 *
 * --pids: server processes (and their children) whose summed PSS
 * (smaps_rollup) once the connections are open and CPU time (schedstat,
 * every thread) over the run are reported.
 *
 * Prints one JSON object: label, clients, held, messages, expected
 * (clients × messages), delivered, duplicated, p50_ms, p95_ms, p99_ms,
 * max_ms, server_pss_kb, server_cpu_s, duration_s. Every loop is bounded
 * by count and by time.
 */

$opt = getopt('', ['url:', 'clients:', 'messages:', 'interval:', 'publish:', 'connect-wait:', 'pids:', 'label:']);
$url = parse_url($opt['url'] ?? '') ?: exit("--url required\n");
$clients = (int) ($opt['clients'] ?? 50);
$messages = (int) ($opt['messages'] ?? 10);
$interval = (float) ($opt['interval'] ?? 1.25);
$publish = $opt['publish'] ?? exit("--publish required\n");
$connectWait = (float) ($opt['connect-wait'] ?? 3);
$label = $opt['label'] ?? $url['path'];
$pids = array_filter(array_map('intval', explode(',', $opt['pids'] ?? '')));
$host = $url['host'];
$port = $url['port'] ?? 80;
$path = $url['path'] . (isset($url['query']) ? '?' . $url['query'] : '');
$began = microtime(true);

/** The pids and, recursively (2 levels), their children. */
function server_pids(array $pids): array
{
    $all = [];
    foreach ($pids as $pid) {
        $all[$pid] = true;
        foreach (explode(' ', trim((string) @file_get_contents("/proc/$pid/task/$pid/children"))) as $c) {
            if ($c !== '') {
                $all[(int) $c] = true;
                foreach (explode(' ', trim((string) @file_get_contents("/proc/$c/task/$c/children"))) as $g) {
                    if ($g !== '') {
                        $all[(int) $g] = true;
                    }
                }
            }
        }
    }
    return array_keys($all);
}

function pss_kb(array $pids): int
{
    $kb = 0;
    foreach (server_pids($pids) as $pid) {
        if (preg_match('/^Pss:\s+(\d+)/m', (string) @file_get_contents("/proc/$pid/smaps_rollup"), $m)) {
            $kb += (int) $m[1];
        }
    }
    return $kb;
}

/**
 * CPU nanoseconds of each thread, by "pid/tid" (threads come and go: diff
 * per thread), from schedstat: finer than /proc/PID/stat's 10 ms ticks.
 */
function cpu_ns(array $pids): array
{
    $t = [];
    foreach (server_pids($pids) as $pid) {
        foreach (glob("/proc/$pid/task/*/schedstat") ?: [] as $f) {
            $t[$f] = (int) explode(' ', (string) @file_get_contents($f))[0];
        }
    }
    return $t;
}

function publish(string $how, string $message): void
{
    if (str_starts_with($how, 'file:')) {
        $file = substr($how, 5);
        file_put_contents("$file.tmp", $message);
        rename("$file.tmp", $file);
        return;
    }
    $ctx = stream_context_create(['http' => ['method' => 'POST', 'content' => $message, 'timeout' => 5,
        'header' => "Content-Type: text/plain\r\n"]]);
    if (@file_get_contents(substr($how, 5), false, $ctx) === false) {
        fwrite(STDERR, "publish failed\n");
    }
}

$cpu0 = cpu_ns($pids);
if (str_starts_with($publish, 'file:')) {
    publish($publish, 'start');   // what the first getMessage() notes
}

// Open every connection at once.
$conns = [];
for ($i = 0; $i < $clients; $i++) {
    $s = @stream_socket_client("tcp://$host:$port", $errno, $errstr, 5);
    if (!$s) {
        fwrite(STDERR, "connect $i: $errstr\n");
        continue;
    }
    stream_set_blocking($s, false);
    fwrite($s, "GET $path HTTP/1.1\r\nHost: $host:$port\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n");
    $conns[$i] = ['s' => $s, 'buf' => '', 'headers' => false, 'seen' => []];
}

$published = [];   // seq => stamp
$latencies = [];
$duplicated = 0;

/** Reads whatever arrives until $until (microtime); bounded by time. */
$pump = function (float $until) use (&$conns, &$latencies, &$duplicated) {
    while (($left = $until - microtime(true)) > 0) {
        $read = [];
        foreach ($conns as $i => $c) {
            if ($c['s']) {
                $read[$i] = $c['s'];
            }
        }
        if (!$read) {
            usleep((int) ($left * 1e6));
            return;
        }
        $w = $e = null;
        if (!@stream_select($read, $w, $e, 0, (int) min(200_000, $left * 1e6))) {
            continue;
        }
        $now = microtime(true);
        foreach ($read as $i => $s) {
            $data = fread($s, 65536);
            if ($data === '' || $data === false) {
                if (feof($s)) {
                    fclose($s);
                    $conns[$i]['s'] = null;
                }
                continue;
            }
            $c = &$conns[$i];
            $c['buf'] .= $data;
            if (!$c['headers']) {
                if (!str_contains($c['buf'], "\r\n\r\n")) {
                    unset($c);
                    continue;
                }
                $c['headers'] = (bool) preg_match('#^HTTP/1\.[01] 200#', $c['buf']);
            }
            if (preg_match_all('/data: m(\d+):(\d+)[ \r\n]/', $c['buf'], $m, PREG_SET_ORDER | PREG_OFFSET_CAPTURE)) {
                foreach ($m as $match) {
                    $seq = (int) $match[1][0];
                    if (isset($c['seen'][$seq])) {
                        $duplicated++;
                        continue;
                    }
                    $c['seen'][$seq] = true;
                    $latencies[] = $now * 1e6 - (int) $match[2][0];
                }
                $last = end($m);
                $c['buf'] = substr($c['buf'], $last[0][1] + strlen($last[0][0]));
            }
            if (strlen($c['buf']) > 4096) {
                $c['buf'] = substr($c['buf'], -256);
            }
            unset($c);
        }
    }
};

$pump(microtime(true) + $connectWait);
$pss = pss_kb($pids);

$next = microtime(true);
for ($seq = 1; $seq <= $messages; $seq++) {
    $stamp = (int) (microtime(true) * 1e6);
    publish($publish, "m$seq:$stamp");
    $published[$seq] = $stamp;
    $next += $interval;
    $pump($next);
}
$pump(microtime(true) + 1.5);   // the last message's stragglers (the tutorial waits up to 1 s)

$cpu1 = cpu_ns($pids);
$ns = 0;
foreach ($cpu1 as $task => $t) {
    $ns += $t - ($cpu0[$task] ?? 0);
}
$held = count(array_filter($conns, fn ($c) => $c['headers']));
foreach ($conns as $c) {
    if ($c['s']) {
        fclose($c['s']);
    }
}

sort($latencies);
$n = count($latencies);
$q = fn (float $p) => $n ? round($latencies[min($n - 1, (int) ($n * $p))] / 1000, 1) : null;
echo json_encode([
    'label' => $label,
    'clients' => $clients,
    'held' => $held,
    'messages' => $messages,
    'expected' => $clients * $messages,
    'delivered' => $n,
    'duplicated' => $duplicated,
    'p50_ms' => $q(0.5),
    'p95_ms' => $q(0.95),
    'p99_ms' => $q(0.99),
    'max_ms' => $n ? round($latencies[$n - 1] / 1000, 1) : null,
    'server_pss_kb' => $pss,
    'server_cpu_s' => round($ns / 1e9, 3),
    'duration_s' => round(microtime(true) - $began, 1),
]), "\n";
