<?php
/**
 * bench/run.sh's helper for its results.
 *
 *   php report.php meta ROOT NOFILE HISTORY HISTORY_TTL NGINX_WORKERS FPM_CHILDREN
 *       prints the machine and settings as one JSON object
 *   php report.php latest.json
 *       prints the markdown report of a run's JSON lines
 *
 * latest.json holds one object per line, "kind" saying which: meta,
 * loadgen (push-loadgen's object plus scenario, title, server, args, note,
 * processes: what each of --pids is; server push-cross is scenario s8's
 * two engines and redis-server),
 * php (scenarios/php-send.php's, plus run), tutorial
 * (scenarios/sse-clients.php's), end.
 */

if (($argv[1] ?? '') === 'meta') {
    [, , $root, $nofile, $history, $ttl, $workers, $children] = $argv;
    $sh = fn (string $cmd) => trim((string) shell_exec($cmd));
    preg_match('/MemTotal:\s+(\d+)/', (string) file_get_contents('/proc/meminfo'), $mem);
    preg_match('/model name\s*:\s*(.+)/', (string) file_get_contents('/proc/cpuinfo'), $cpu);
    $dirty = $sh('git -C ' . escapeshellarg($root) . ' status --porcelain --untracked-files=no -- . ' . escapeshellarg(':(exclude)bench/results') . ' 2>/dev/null') !== '';   // the run's own output is not a change
    echo json_encode([
        'date' => date('Y-m-d H:i T'),
        'cores' => (int) $sh('nproc'),
        'cpu' => $cpu[1] ?? '?',
        'ram_gib' => round(((int) ($mem[1] ?? 0)) / 1048576, 1),
        'kernel' => php_uname('r'),
        'os' => 'Debian ' . trim((string) @file_get_contents('/etc/debian_version')),
        'php' => PHP_VERSION,
        'push' => phpversion('push'),
        'phpredis' => phpversion('redis'),
        'nginx' => preg_replace('#^nginx version: nginx/#', '', $sh('/usr/sbin/nginx -v 2>&1')),
        'nchan' => $sh("dpkg-query -W -f='\${Version}' libnginx-mod-nchan"),
        'redis' => preg_replace('/^Redis server v=(\S+).*/', '$1', $sh('redis-server --version')),
        'commit' => $sh('git -C ' . escapeshellarg($root) . ' rev-parse --short HEAD 2>/dev/null') . ($dirty ? ' (with local changes)' : ''),
        'nofile' => (int) $nofile,
        'push_settings' => "bin/push-server --history=$history --history_ttl=$ttl --max_connections=" . ((int) $nofile - 100) . "; every other push.* setting at its default (push.threads = 2, push.channel_buffer = 256, push.max_queue_bytes = 1M)",
        'nchan_settings' => "worker_processes $workers; nchan_message_buffer_length $history; nchan_message_timeout {$ttl}s; nchan_subscriber_first_message newest; nchan_shared_memory_size 256M; listen backlog 4096 (bench/nchan.conf)",
        'fpm_settings' => 'php' . PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION . "-fpm pm = static, pm.max_children = $children, behind nginx (fastcgi_buffering off), one worker per connection",
        'cross_settings' => "engines A and B: bin/push-server with the push settings above plus --broker=redis://127.0.0.1:PORT/0 (push.redis_prefix = push); redis-server --bind 127.0.0.1 --save '' --appendonly no (a fresh one and fresh engines for each run); subscribers connect to B, push-loadgen publishes (POST /publish) to A",
        'loadavg' => implode(' ', array_slice(explode(' ', (string) @file_get_contents('/proc/loadavg')), 0, 3)),
    ], JSON_UNESCAPED_SLASHES), "\n";
    exit(0);
}

$rows = [];
foreach (file($argv[1] ?? 'latest.json', FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $line) {
    $o = json_decode($line, true);
    if (is_array($o)) {
        $rows[] = $o;
    }
}
$meta = current(array_filter($rows, fn ($r) => $r['kind'] === 'meta')) ?: [];
$end = current(array_filter($rows, fn ($r) => $r['kind'] === 'end')) ?: [];

function num($v, int $dec = -1): string
{
    if ($v === null || $v === '') {
        return '—';
    }
    if (!is_numeric($v)) {
        return (string) $v;
    }
    $v = (float) $v;
    if ($dec < 0) {
        $dec = floor($v) == $v || abs($v) >= 1000 ? 0 : (abs($v) >= 100 ? 1 : (abs($v) >= 1 ? 2 : 3));
    }
    $s = number_format($v, $dec, '.', ',');
    return str_contains($s, '.') ? rtrim(rtrim($s, '0'), '.') : $s;
}

function ratio($a, $b): string
{
    if (!is_numeric($a) || !is_numeric($b) || (float) $b == 0.0) {
        return '—';
    }
    $r = $a / $b;
    if ($r >= 100) {
        return number_format($r, 0, '.', ',');
    }
    if ($r >= 0.1 || $r == 0.0) {
        return number_format($r, 2);
    }
    return rtrim(sprintf('%.6f', (float) sprintf('%.2g', $r)), '0');   // two significant digits
}

function median(array $v)
{
    $v = array_values(array_filter($v, 'is_numeric'));
    if (!$v) {
        return null;
    }
    sort($v);
    $n = count($v);
    return $n % 2 ? $v[intdiv($n, 2)] : ($v[$n / 2 - 1] + $v[$n / 2]) / 2;
}

$out = [];
$out[] = '# push benchmark — push against nginx + nchan, phpredis and the tutorial; two engines through Redis against one';
$out[] = '';
if ($meta) {
    $out[] = sprintf('Machine: %d cores, %s, %s GiB RAM, kernel %s, %s. Date: %s%s.',
        $meta['cores'], $meta['cpu'], $meta['ram_gib'], $meta['kernel'], $meta['os'], $meta['date'],
        isset($end['elapsed_s']) ? sprintf(' (the run took %d min %02d s)', intdiv($end['elapsed_s'], 60), $end['elapsed_s'] % 60) : '');
    $out[] = '';
    $out[] = sprintf('Software: push %s (commit %s) on PHP %s; nginx %s with libnginx-mod-nchan %s; redis-server %s with phpredis %s.',
        $meta['push'], $meta['commit'], $meta['php'], $meta['nginx'], $meta['nchan'], $meta['redis'], $meta['phpredis']);
    $out[] = '';
    $out[] = 'Settings:';
    $out[] = '';
    $out[] = "- push: `{$meta['push_settings']}`";
    $out[] = "- nginx + nchan: `{$meta['nchan_settings']}`";
    $out[] = "- tutorial: {$meta['fpm_settings']}";
    if (isset($meta['cross_settings'])) {
        $out[] = "- cross-engine (s8): {$meta['cross_settings']}";
    }
    $out[] = "- open files: {$meta['nofile']} per process (each server and the load generator); each scenario runs on a freshly started server, one server at a time, on loopback, the load generator (target/release/push-loadgen) on the same {$meta['cores']} cores"
        . (isset($meta['loadavg']) ? "; load average when the run began: {$meta['loadavg']}" : '');
    $out[] = '';
}
$out[] = 'Ratios are push / reference: below 1 is better for push in rows marked (lower is better), above 1 in rows marked (higher is better). Each load-generator figure is the median of the runs listed under its table (push and nchan alternating); on a shared or virtual machine single runs can differ by 2× or more (s4 most), so compare push and its reference within one run, not figures across runs. In s8 (cross-engine) the reference is push itself with one engine, and the ratio is two engines / one engine.';
$out[] = '';

// ---------------------------------------------------------------- push-loadgen scenarios
$metrics = [
    // key, label, direction
    ['connected', 'connected', 'higher'],
    ['failed', 'failed connections', 'lower'],
    ['expected', 'messages expected (deliveries)', ''],
    ['delivered', 'delivered', 'higher'],
    ['lost', 'lost', 'lower'],
    ['duplicated', 'duplicated', 'lower'],
    ['p50_ms', 'latency p50, ms', 'lower'],
    ['p95_ms', 'latency p95, ms', 'lower'],
    ['p99_ms', 'latency p99, ms', 'lower'],
    ['max_ms', 'latency max, ms', 'lower'],
    ['msgs_per_s', 'delivered messages/s', 'higher'],
    ['cpu_s', 'server CPU, s', 'lower'],
    ['cpu_us_per_msg', 'server CPU per delivered message, µs', 'lower'],
    ['cpu_sys_us_per_msg', '… of which in the kernel (system time), µs', 'lower'],
    ['cpu_user_us_per_msg', '… of which in user space, µs', 'lower'],
    ['syscalls_per_msg', 'server syscalls per delivered message (perf)', 'lower'],
    ['rss_before_kb', 'server RSS before, KB', ''],
    ['rss_after_kb', 'server RSS with the connections, KB', 'lower'],
    ['rss_per_conn_bytes', 'server RSS per connection, bytes', 'lower'],
    ['duration_s', 'duration, s', ''],
];
$scenarios = [];
foreach ($rows as $r) {
    if ($r['kind'] === 'loadgen') {
        $scenarios[$r['scenario']]['title'] = $r['title'];
        $scenarios[$r['scenario']]['args'] = $r['args'];
        $scenarios[$r['scenario']]['note'] = $r['note'] ?? '';
        $scenarios[$r['scenario']][$r['server']][] = $r;
    }
}
/** The element-wise median of the runs' arrays under $key. */
function medians(array $runs, string $key): array
{
    $cols = [];
    foreach ($runs as $r) {
        foreach ((array) ($r[$key] ?? []) as $i => $v) {
            $cols[$i][] = $v;
        }
    }
    return array_map('median', $cols);
}

$summary = [];
$cross = [];
$adapters = [];
$n = 0;
$sections = [];
foreach ($scenarios as $id => $s) {
    $n++;
    // s8: push with two engines and Redis against push with one engine;
    // every other scenario: push against nginx + nchan.
    $s8 = str_starts_with($id, 's8');
    // s10: push's Pusher protocol against push's own WebSocket; s11: its
    // Mercure hub against its own SSE.
    $s11 = str_starts_with($id, 's11');
    $s10 = str_starts_with($id, 's10') || $s11;
    [$subject, $ref] = $s8 ? ['push-cross', 'push'] : ($s11 ? ['push-mercure', 'push'] : ($s10 ? ['push-pusher', 'push'] : ['push', 'nchan']));
    $sec = [];
    $sec[] = "### $id. {$s['title']}";
    $sec[] = '';
    $sec[] = $s8
        ? "`push-loadgen bench --server push {$s['args']}`: two engines: `--addr` engine B (subscribers) `--publish-addr` engine A, `--pids` A,B,redis-server; one engine: `--addr` the engine"
        : "`push-loadgen bench {$s['args']}` (push: `--server push`, nchan: `--server nchan`)";
    $sec[] = '';
    if ($s['note'] !== '') {
        $sec[] = "Note: {$s['note']}.";
        $sec[] = '';
    }
    // With several runs of a scenario, each figure is the median.
    $fig = [];
    foreach ([$subject, $ref] as $server) {
        foreach ($metrics as [$key]) {
            $fig[$server][$key] = median(array_column($s[$server] ?? [], $key));
        }
        $runs = count($s[$server] ?? []);
        $fig[$server]['runs'] = $runs;
        foreach ($s[$server] ?? [] as $run) {
            if (!empty($run['error'])) {
                $sec[] = "**$server failed:** " . str_replace("\n", ' ', $run['error']);
                $sec[] = '';
            }
        }
    }
    $sec[] = match (true) {
        $s8 => '| metric | two engines + Redis (subscribers on B, publishing on A) | one engine (memory broker) | two / one |',
        $s11 => '| metric | Mercure hub | push\'s own SSE | Mercure / own |',
        $s10 => '| metric | Pusher protocol | push\'s own WebSocket | Pusher / own |',
        default => '| metric | push | nginx + nchan | push / nchan |',
    };
    $sec[] = '|---|---:|---:|---:|';
    $idle = str_contains($s['args'], '--idle');
    foreach ($metrics as [$key, $label, $dir]) {
        if ($idle && !in_array($key, ['connected', 'failed', 'rss_before_kb', 'rss_after_kb', 'rss_per_conn_bytes', 'duration_s'], true)) {
            continue;   // nothing is published
        }
        $p = $fig[$subject][$key];
        $c = $fig[$ref][$key];
        if ($p === null && $c === null) {
            continue;
        }
        if ($s8) {
            $label = str_replace('server ', 'servers\' ', $label);
        }
        $sec[] = sprintf('| %s%s | %s | %s | %s |', $label, $dir ? " ($dir is better)" : '', num($p), num($c), $dir ? ratio($p, $c) : '');
        // Each process of the two engines' run on its own.
        if ($s8 && in_array($key, ['cpu_s', 'cpu_us_per_msg', 'rss_after_kb'], true)) {
            $names = $s[$subject][0]['processes'] ?? [];
            $byKey = ['cpu_s' => 'cpu_s_by_pid', 'cpu_us_per_msg' => 'cpu_us_per_msg_by_pid', 'rss_after_kb' => 'rss_after_kb_by_pid'][$key];
            foreach (medians($s[$subject] ?? [], $byKey) as $i => $v) {
                $sec[] = sprintf('| … %s | %s | | |', $names[$i] ?? "process $i", num($v));
                $fig[$subject][$byKey][$i] = $v;
            }
        }
    }
    if ($fig[$subject]['runs'] > 1 || $fig[$ref]['runs'] > 1) {
        $sec[] = '';
        $sec[] = $s8
            ? sprintf('Medians of %d (two engines) and %d (one engine) runs, alternating; the rows "…" are per process, the median of each.', $fig[$subject]['runs'], $fig[$ref]['runs'])
            : sprintf('Medians of %d (%s) and %d (%s) runs.', $fig[$subject]['runs'], $subject, $fig[$ref]['runs'], $ref);
    }
    $sec[] = '';
    $sections[] = $sec;
    if ($s8) {
        // The cross-engine summary: throughput, latency, CPU, loss.
        $c = $fig[$subject];
        $o = $fig[$ref];
        $names = $s[$subject][0]['processes'] ?? [];
        $line = fn (string $label, $a, $b) => sprintf('| %s | %s | %s | %s | %s |', $id, $label, num($a), num($b), ratio($a, $b));
        $cross[] = $line('delivered messages/s', $c['msgs_per_s'], $o['msgs_per_s']);
        foreach (['p50_ms', 'p99_ms'] as $k) {
            $cross[] = $line(array_column($metrics, 1, 0)[$k], $c[$k], $o[$k]);
        }
        $cross[] = $line('CPU per delivered message, µs (all server processes)', $c['cpu_us_per_msg'], $o['cpu_us_per_msg']);
        foreach ($c['cpu_us_per_msg_by_pid'] ?? [] as $i => $v) {
            $cross[] = sprintf('| %s | … %s | %s | | |', $id, $names[$i] ?? "process $i", num($v));
        }
        $cross[] = sprintf('| %s | delivered / expected; lost; duplicated | %s / %s; %s; %s | %s / %s; %s; %s | |', $id,
            num($c['delivered']), num($c['expected']), num($c['lost']), num($c['duplicated']),
            num($o['delivered']), num($o['expected']), num($o['lost']), num($o['duplicated']));
        continue;
    }
    if ($s10) {
        $c = $fig[$subject];
        $o = $fig[$ref];
        foreach (['p50_ms', 'p99_ms', 'cpu_us_per_msg', 'cpu_user_us_per_msg', 'syscalls_per_msg'] as $k) {
            $adapters[] = sprintf('| %s | %s | %s | %s | %s |', $id, array_column($metrics, 1, 0)[$k], num($c[$k]), num($o[$k]), ratio($c[$k], $o[$k]));
        }
        $adapters[] = sprintf('| %s | delivered / expected | %s / %s | %s / %s | |', $id, num($c['delivered']), num($c['expected']), num($o['delivered']), num($o['expected']));
        continue;
    }
    // The summary: the figure each scenario is about.
    $key = match (true) {
        str_starts_with($id, 's3') => 'rss_per_conn_bytes',
        $id === 's4' => 'msgs_per_s',
        default => 'p50_ms',
    };
    $label = array_column($metrics, 1, 0)[$key];
    $summary[] = sprintf('| %s | %s | %s | %s | %s |', $id, $label, num($fig['push'][$key]), num($fig['nchan'][$key]), ratio($fig['push'][$key], $fig['nchan'][$key]));
    if (in_array($id, ['s1', 's2', 's4', 's6'], true)) {
        foreach (['cpu_us_per_msg', 'cpu_sys_us_per_msg', 'cpu_user_us_per_msg', 'syscalls_per_msg'] as $k) {
            $summary[] = sprintf('| %s | %s | %s | %s | %s |', $id, array_column($metrics, 1, 0)[$k], num($fig['push'][$k] ?? null), num($fig['nchan'][$k] ?? null), ratio($fig['push'][$k] ?? null, $fig['nchan'][$k] ?? null));
        }
    }
    $idle || $summary[] = sprintf('| %s | delivered / expected | %s / %s | %s / %s | |', $id, num($fig['push']['delivered']), num($fig['push']['expected']), num($fig['nchan']['delivered']), num($fig['nchan']['expected']));
}
if ($summary) {
    $out[] = '## Summary: push against nginx + nchan';
    $out[] = '';
    $out[] = '| scenario | figure | push | nginx + nchan | push / nchan |';
    $out[] = '|---|---|---:|---:|---:|';
    array_push($out, ...$summary);
    $out[] = '';
}
if ($cross) {
    $out[] = '## Summary: cross-engine — two engines sharing channels through Redis against one engine';
    $out[] = '';
    $out[] = 'Subscribers on engine B, publications (POST /publish) on engine A, both with `push.broker = redis://…` to a local redis-server; the reference is one engine with the memory broker taking both. "…" rows: the two engines\' run per process.';
    $out[] = '';
    $out[] = '| scenario | figure | two engines + Redis | one engine | two / one |';
    $out[] = '|---|---|---:|---:|---:|';
    array_push($out, ...$cross);
    $out[] = '';
}
if ($adapters) {
    $out[] = '## Summary: the protocol adapters against push\'s own transports';
    $out[] = '';
    $out[] = 'One engine each; the same 1,000 subscribers, publications and rate. s10: subscribers speaking the Pusher protocol 7 (pusher:subscribe, frames {event, channel, data}) against push\'s own WebSocket; s11: Mercure subscribers (`/.well-known/mercure?topic=…`, `push.mercure_channels = On`) against push\'s own SSE.';
    $out[] = '';
    $out[] = '| scenario | figure | adapter | push\'s own transport | adapter / own |';
    $out[] = '|---|---|---:|---:|---:|';
    array_push($out, ...$adapters);
    $out[] = '';
}
if ($sections) {
    $out[] = '## Scenarios (push-loadgen)';
    $out[] = '';
    foreach ($sections as $sec) {
        array_push($out, ...$sec);
    }
}

// ---------------------------------------------------------------- PHP: push_send / push_get_message vs phpredis
$php = [];
foreach ($rows as $r) {
    if ($r['kind'] === 'php' && isset($r['mode'])) {
        $php[$r['mode']][] = $r;
    }
}
if ($php) {
    $m = fn (string $mode, string $key) => median(array_column($php[$mode] ?? [], $key));
    $runs = max(array_map('count', $php));
    $calls = $php['worker-send'][0]['n'] ?? ($php['engine-send'][0]['n'] ?? '?');
    $wakes = $php['worker-wake'][0]['n'] ?? '?';
    $out[] = '## 7. PHP: push_send() and push_get_message() against phpredis + redis-server';
    $out[] = '';
    $out[] = sprintf('`bench/scenarios/php-send.php`: %s calls per run (32-byte message, nobody subscribed) and %s wake-ups per run (a forked child publishes a `hrtime()` stamp every 5 ms; the waiter measures the delay to its wake-up); each figure the median of %d runs, each run a new PHP process. "Engine process": the script runs the engine itself (`push_server_start()`); "worker": the engine is `bin/push-server` and the script reaches it over push.socket (a Unix socket), the way php-fpm workers do. The reference is phpredis to a `redis-server` on 127.0.0.1 (TCP loopback): PUBLISH, and SUBSCRIBE for wake-ups.',
        num($calls), num($wakes), $runs);
    $out[] = '';
    $out[] = '| figure | push | phpredis → redis-server | push / phpredis |';
    $out[] = '|---|---:|---:|---:|';
    $line = function (string $label, string $mode, string $ref, string $key) use ($m, &$out) {
        $out[] = sprintf('| %s | %s | %s | %s |', $label, num($m($mode, $key)), num($m($ref, $key)), ratio($m($mode, $key), $m($ref, $key)));
    };
    $line('push_send() in the engine process, calls/s (higher is better) vs PUBLISH', 'engine-send', 'redis-publish', 'calls_per_s');
    $line('push_send() from a worker, calls/s (higher is better) vs PUBLISH', 'worker-send', 'redis-publish', 'calls_per_s');
    $line('push_send() in the engine process, p50 µs per call (lower is better)', 'engine-send', 'redis-publish', 'p50_us');
    $line('push_send() from a worker, p50 µs per call (lower is better)', 'worker-send', 'redis-publish', 'p50_us');
    $line('push_send() from a worker, p99 µs per call (lower is better)', 'worker-send', 'redis-publish', 'p99_us');
    $line('push_get_message() wake-up in the engine process, p50 µs (lower is better) vs SUBSCRIBE', 'engine-wake', 'redis-wake', 'p50_us');
    $line('push_get_message() wake-up in the engine process, p99 µs (lower is better)', 'engine-wake', 'redis-wake', 'p99_us');
    $line('push_get_message() wake-up in a worker, p50 µs (lower is better) vs SUBSCRIBE', 'worker-wake', 'redis-wake', 'p50_us');
    $line('push_get_message() wake-up in a worker, p99 µs (lower is better)', 'worker-wake', 'redis-wake', 'p99_us');
    $errors = array_filter(array_merge(...array_values($php)), fn ($r) => !empty($r['error']));
    foreach ($errors as $e) {
        $out[] = '';
        $out[] = "**{$e['mode']} failed:** {$e['error']}";
    }
    $out[] = '';
}

// ---------------------------------------------------------------- the tutorial under php-fpm
$tut = array_values(array_filter($rows, fn ($r) => $r['kind'] === 'tutorial'));
if ($tut) {
    $by = [];
    foreach ($tut as $t) {
        $by[$t['label']] = $t;
    }
    $labels = array_keys($by);
    $push = $by['push engine /sse'] ?? null;
    $tutorial = null;
    foreach ($by as $l => $t) {
        if (str_starts_with($l, 'tutorial')) {
            $tutorial = $t;
        }
    }
    $first = $tut[0];
    $out[] = '## 8. What push replaces: the tutorial\'s SSE loop under php-fpm';
    $out[] = '';
    $out[] = sprintf('`bench/scenarios/sse-clients.php`: %d SSE connections opened at once; after 3 s, %d messages 1.25 s apart (slower than the tutorial\'s 1 s loop, so nothing is missed for its rate). "Held": connections that got their response (the others wait in php-fpm\'s queue: one worker per open page). The tutorial\'s `stream.php` is `bench/scenarios/tutorial-stream.php` — its loop unchanged, `sleep(1)`, `getMessage()` reading a file; `examples/fpm/stream.php` is the same technique on `push_get_message()`; the engine\'s `/sse/{channel}` holds no PHP process. Server memory is the summed PSS of the php-fpm master and workers (nginx in front not counted) or of the engine process, CPU their CPU time over the run.',
        $first['clients'] ?? 0, $first['messages'] ?? 0);
    $out[] = '';
    $head = '| figure | ' . implode(' | ', $labels) . ' | push engine / tutorial |';
    $out[] = $head;
    $out[] = '|---|' . str_repeat('---:|', count($labels) + 1);
    foreach ([
        ['clients', 'connections opened', ''],
        ['held', 'connections held (served)', 'higher'],
        ['expected', 'messages expected (deliveries)', ''],
        ['delivered', 'delivered', 'higher'],
        ['duplicated', 'duplicated', 'lower'],
        ['p50_ms', 'latency p50, ms', 'lower'],
        ['p95_ms', 'latency p95, ms', 'lower'],
        ['p99_ms', 'latency p99, ms', 'lower'],
        ['max_ms', 'latency max, ms', 'lower'],
        ['server_pss_kb', 'server memory (PSS) while holding, KB', 'lower'],
        ['server_cpu_s', 'server CPU over the run, s', 'lower'],
    ] as [$key, $label, $dir]) {
        $cells = array_map(fn ($t) => num($t[$key] ?? null), array_values($by));
        $out[] = sprintf('| %s%s | %s | %s |', $label, $dir ? " ($dir is better)" : '', implode(' | ', $cells),
            $dir && $push && $tutorial ? ratio($push[$key] ?? null, $tutorial[$key] ?? null) : '');
    }
    foreach ($tut as $t) {
        if (!empty($t['error'])) {
            $out[] = '';
            $out[] = "**{$t['label']} failed:** {$t['error']}";
        }
    }
    $out[] = '';
    $s2 = $scenarios['s2']['push'][0]['connected'] ?? null;
    $out[] = sprintf('One php-fpm pool of %s workers holds at most that many open pages, whatever the technique inside; the engine held %s here%s.',
        preg_match('/max_children = (\d+)/', $meta['fpm_settings'] ?? '', $mm) ? $mm[1] : '?',
        num($push['held'] ?? null),
        $s2 ? ' and ' . num($s2) . ' SSE subscribers in scenario s2' : '');
    $out[] = '';
}

echo implode("\n", $out), "\n";
