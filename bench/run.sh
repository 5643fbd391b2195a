#!/usr/bin/env bash
# push against the references, in one run (about 10 minutes on 2 cores):
#
#   bench/run.sh                        every scenario
#   BENCH_ONLY="s1 php" bench/run.sh    some of them: s1 … s6, s8 … s11, php, tutorial
#   BENCH_REPEAT=1 bench/run.sh         one run per scenario and server (default 3)
#   PUSH_LOADGEN=/path/push-loadgen     another build of the load generator
#   PUSH_BENCH_ARGS="--coalesce=0"      more settings for push's engine (A/B runs)
#   BENCH_SYSCALLS=0 bench/run.sh       without perf counting the servers' syscalls
#
# Prints a markdown table per scenario — push and the reference side by
# side, the ratio push/reference, the machine and the exact settings — and
# writes it to bench/results/latest.md, the raw JSON lines to
# bench/results/latest.json (and the servers' logs to bench/results/logs/).
#
# Scenarios (push-loadgen against push and nginx + nchan, each run on a
# freshly started server, one server running at a time; 3 runs of each,
# push and nchan alternating; the table shows medians):
#   s1  1,000 WebSocket subscribers, one channel, 100 messages at 10/s
#   s2  10,000 SSE subscribers, one channel, 50 messages at 5/s
#   s3  10,000 idle WebSocket, then 10,000 idle SSE connections: RSS per
#       connection (two runs: see the open-files limit below)
#   s4  1,000 WebSocket subscribers, publishing as fast as possible for 10 s:
#       delivered messages/s, server CPU µs per delivered message
#   s5  10,000 WebSocket subscribers over 1,000 channels
#   s6  1,000 long-poll subscribers, one channel, 50 messages at 5/s
#   s10 push against itself: s1 with the subscribers on the Pusher protocol
#       (pusher:subscribe, frames {event, channel, data}) against s1 on
#       push's own WebSocket: what the adapter costs
#   s11 push against itself: 1,000 Mercure subscribers of one topic
#       against 1,000 SSE subscribers of one channel, 100 messages at 10/s:
#       what the Mercure hub costs
#   s9  one WebSocket subscriber (s9-sse: one SSE subscriber), one
#       publisher sending 1,000 messages back to back (each POST waits for
#       the answer to the last): latency when nothing is busy
# and push against itself (cross-engine, the Redis broker):
#   s8       1,000 WebSocket subscribers on engine B, 100 messages at 10/s
#            published (POST /publish) on engine A; A and B share the
#            channel through a local redis-server (push.broker = redis://…).
#            Reference: one engine with the memory broker, subscribers and
#            publications on it (s1 on push). Server CPU is given for A, B
#            and redis-server separately.
#   s8-flat  the same, publishing as fast as possible for 5 s (4 HTTP
#            publishers, at most 32 publications ahead of their delivery:
#            without that bound, A accepts publications faster than B fans
#            them out, and B's subscribers lag past the history and are
#            closed with 4001 lost — there is no back-pressure between
#            engines). Delivered messages/s, CPU µs per delivered message.
#            Each s8 run starts a fresh redis-server (--save '' --appendonly
#            no) and fresh engines; about 2 minutes with 3 runs.
# and, without the load generator:
#   php       push_send() calls/s and push_get_message() wake-up latency, in
#             the engine process and from a worker over push.socket, against
#             phpredis PUBLISH / SUBSCRIBE to a redis-server on loopback
#             (scenarios/php-send.php, median of 5 runs each)
#   tutorial  the tutorial's SSE loop (sleep(1)) under php-fpm (a static pool
#             of 20) against push's engine /sse and examples/fpm/stream.php
#             (scenarios/sse-clients.php, scenarios/tutorial-stream.php)
#
# Fairness: push runs with its defaults (push.threads = 2) plus
# push.history = 100 and push.max_connections = the open-files limit - 100
# (nginx's worker_connections; loopback clients are exempt from push's
# per-address limits); nginx runs worker_processes 2 (= the cores, nginx's
# `auto`): each server may use both cores, and both share them with the load
# generator in the same way. nchan keeps the same history (100 messages,
# 300 s) and, like push, starts a new subscriber at the next message. See
# bench/nchan.conf.
#
# Needs target/release/libpush.so and target/release/push-loadgen
# (cargo build --release --workspace); installs nginx, libnginx-mod-nchan,
# this PHP's php-fpm and phpredis, and redis-server when missing (apt-get).
source "$(dirname "$0")/../scripts/lib.sh"
set +e            # a failing run is recorded in the table, not fatal
set -u -o pipefail

LOADGEN="${PUSH_LOADGEN:-$ROOT/target/release/push-loadgen}"   # PUSH_LOADGEN: another build
RESULTS="$ROOT/bench/results"
SCEN="$ROOT/bench/scenarios"
ONLY="${BENCH_ONLY:-s1 s2 s3 s4 s5 s6 s8 s9 s10 s11 php tutorial}"
S8_FLAT_SECONDS=5   # s8-flat: publishing time
S8_WINDOW=32        # s8-flat: publications ahead of their delivery, at most
HISTORY=100
HISTORY_TTL=300
NGINX_WORKERS=2
FPM_CHILDREN=20
TUTORIAL_CLIENTS=50
PHP_RUNS=5
REPEAT="${BENCH_REPEAT:-3}"   # runs of each load-generator scenario per server

die() { say "$*"; exit 1; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }

[ -f "$SO" ] || die "target/release/libpush.so is missing: run cargo build --release --workspace"
[ -x "$LOADGEN" ] || die "target/release/push-loadgen is missing: run cargo build --release -p push-bench"
apt_need nginx libnginx-mod-nchan redis-server curl
# Syscalls per delivery: perf counts the servers' raw_syscalls:sys_enter
# during each load-generator run (BENCH_SYSCALLS=0: not counted; the
# tracepoint costs a little kernel time, alike for both servers).
SYSCALLS="${BENCH_SYSCALLS:-1}"
[ "$SYSCALLS" = 0 ] || apt_need linux-perf
php_need cli fpm redis
PHP_ETC="/etc/php/$PHP_VER"   # Debian's layout: cli/conf.d, fpm/conf.d, fpm/php.ini
[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || die "nchan module not found after installing libnginx-mod-nchan"

# Open files: each server and the load generator hold one descriptor per
# connection. Raise the soft limit to the hard one (and the hard one when
# allowed: it needs CAP_SYS_RESOURCE, which containers often lack).
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE="$(ulimit -n)"
MAX_CONNS=$((NOFILE - 300))

TMP="$(mktemp -d /tmp/push-bench.XXXXXX)"
mkdir -p "$RESULTS/logs"
rm -f "$RESULTS"/logs/*
JSON="$RESULTS/latest.json"
: > "$JSON"
STARTED=()   # pids of everything started here, stopped on exit

# alive PID: running (a zombie — exited, not yet reaped — is not).
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# stop PID: SIGTERM, wait up to 10 s, then SIGKILL; reaps it and forgets it
# (so that cleanup never signals a reused pid). Only our own children.
stop() {
    local pid="$1" i
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 100); do
            alive "$pid" || break
            sleep 0.1
        done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    forget "$pid"
    return 0
}

forget() {
    local i rest=()
    for i in "${STARTED[@]}"; do [ "$i" = "$1" ] || rest+=("$i"); done
    STARTED=("${rest[@]}")
}

# run OUT ERR CMD...: CMD in the background, its stdout to OUT and stderr
# appended to ERR, waited for (a signal to this script is handled at once,
# not after CMD); returns CMD's status.
run() {
    local out="$1" err="$2" pid rc
    shift 2
    "$@" >"$out" 2>>"$err" &
    pid=$!
    STARTED+=("$pid")
    wait "$pid"
    rc=$?
    forget "$pid"
    return $rc
}

cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do stop "$pid"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP PIPE

free_port() {
    php -n -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo substr(strrchr(stream_socket_get_name($s, false), ":"), 1);'
}

# wait_http URL: until it answers 200 (at most 10 s).
wait_http() {
    local i
    for i in $(seq 100); do
        curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# children PID: the pids of its direct children (no name matching).
children() { cat "/proc/$1/task/$1/children" 2>/dev/null; }

# PHP with this checkout's libpush.so and nothing else named push: the
# distribution's conf.d (phpredis etc.) without an installed push.ini.
mkdir -p "$TMP/php-cli.d" "$TMP/php-fpm.d"
for f in "$PHP_ETC"/cli/conf.d/*.ini; do [[ "$f" == *push* ]] || cp "$f" "$TMP/php-cli.d/"; done
for f in "$PHP_ETC"/fpm/conf.d/*.ini; do [[ "$f" == *push* ]] || cp "$f" "$TMP/php-fpm.d/"; done
echo "extension=$SO" > "$TMP/php-cli.d/99-push-bench.ini"
echo "extension=$SO" > "$TMP/php-fpm.d/99-push-bench.ini"
export PHP_INI_SCAN_DIR="$TMP/php-cli.d"
php -m | grep -x push >/dev/null || die "php does not load $SO"

# record KIND JSON: one line of latest.json ({"kind":KIND, …JSON}).
record() {
    php -r '$o = json_decode($argv[2], true); if (!is_array($o)) { $o = ["error" => "not JSON: " . substr($argv[2], 0, 300)]; }
            echo json_encode(["kind" => $argv[1]] + $o, JSON_UNESCAPED_SLASHES), "\n";' "$1" "$2" >> "$JSON"
}

# ---------------------------------------------------------------- servers

# start_engine NAME [--SETTING=VALUE…]: bin/push-server on a free port with
# its own worker socket ($TMP/NAME.sock) and log (logs/NAME.log); sets
# ENGINE_PID and ENGINE_ADDR.
ENGINE_PID=""; ENGINE_ADDR=""
start_engine() {
    local name="$1" port
    shift
    port="$(free_port)"
    ENGINE_ADDR="127.0.0.1:$port"
    rm -f "$TMP/$name.sock"
    # push.max_connections as nginx's worker_connections (bench/nchan.conf):
    # the open-files limit, not the default 10,000, bounds the scenarios.
    php "$ROOT/bin/push-server" --listen="$ENGINE_ADDR" --socket="$TMP/$name.sock" --history=$HISTORY \
        --history_ttl=$HISTORY_TTL --max_connections=$((NOFILE - 100)) "$@" >>"$RESULTS/logs/$name.log" 2>&1 &
    ENGINE_PID=$!
    STARTED+=("$ENGINE_PID")
    wait_http "http://$ENGINE_ADDR/health" || { tail -5 "$RESULTS/logs/$name.log" >&2; die "push ($name) did not start on $ENGINE_ADDR"; }
}

PUSH_PID=""; PUSH_ADDR=""
start_push() {
    # shellcheck disable=SC2086 # PUSH_BENCH_ARGS: flags, split on spaces
    start_engine push ${PUSH_BENCH_ARGS:-}
    PUSH_PID="$ENGINE_PID"; PUSH_ADDR="$ENGINE_ADDR"
}

# A redis-server of our own on a free loopback port, no persistence.
BROKER_PID=""; BROKER_PORT=""
start_redis() {
    local dir="$TMP/redis-$1" i
    rm -rf "$dir"; mkdir -p "$dir"
    BROKER_PORT="$(free_port)"
    redis-server --port "$BROKER_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        >>"$RESULTS/logs/redis.log" 2>&1 &
    BROKER_PID=$!
    STARTED+=("$BROKER_PID")
    for i in $(seq 100); do
        redis-cli -p "$BROKER_PORT" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    die "redis-server did not start on port $BROKER_PORT"
}
stop_redis() { [ -n "$BROKER_PID" ] && stop "$BROKER_PID"; BROKER_PID=""; }

# wait_psubscribed N: until N connections of the redis-server hold a pattern
# subscription (every engine's broker listens with PSUBSCRIBE; PUBSUB NUMPAT
# counts distinct patterns, not connections). At most 10 s.
wait_psubscribed() {
    local i
    for i in $(seq 100); do
        [ "$(redis-cli -p "$BROKER_PORT" client list 2>/dev/null | grep -c ' psub=[1-9]')" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# Two engines sharing channels through a fresh redis-server: subscribers go
# to B (CROSS_B), publications to A (CROSS_A).
CROSS_A=""; CROSS_B=""; CROSS_A_PID=""; CROSS_B_PID=""
start_cross() {
    start_redis cross
    local broker="--broker=redis://127.0.0.1:$BROKER_PORT/0"
    start_engine engine-a "$broker"
    CROSS_A="$ENGINE_ADDR"; CROSS_A_PID="$ENGINE_PID"
    start_engine engine-b "$broker"
    CROSS_B="$ENGINE_ADDR"; CROSS_B_PID="$ENGINE_PID"
    wait_psubscribed 2 || die "the engines did not subscribe to redis-server on port $BROKER_PORT (logs/engine-a.log, logs/engine-b.log)"
}
stop_cross() {
    [ -n "$CROSS_B_PID" ] && stop "$CROSS_B_PID"
    [ -n "$CROSS_A_PID" ] && stop "$CROSS_A_PID"
    stop_redis
    CROSS_A_PID=""; CROSS_B_PID=""
}

NGINX_PID=""; NCHAN_ADDR=""; NCHAN_PIDS=""
start_nchan() {
    local port dir="$TMP/nchan" i
    port="$(free_port)"
    NCHAN_ADDR="127.0.0.1:$port"
    rm -rf "$dir"
    mkdir -p "$dir"
    sed -e "s#@DIR@#$dir#g; s#@PORT@#$port#g; s#@WORKERS@#$NGINX_WORKERS#g; s#@NOFILE@#$NOFILE#g" \
        -e "s#@CONNS@#$((NOFILE - 100))#g; s#@HISTORY@#$HISTORY#g; s#@HISTORY_TTL@#$HISTORY_TTL#g" \
        "$ROOT/bench/nchan.conf" > "$dir/nchan.conf"
    /usr/sbin/nginx -c "$dir/nchan.conf" -p "$dir" >>"$RESULTS/logs/nchan.log" 2>&1 &
    NGINX_PID=$!
    STARTED+=("$NGINX_PID")
    wait_http "http://$NCHAN_ADDR/status" || { cat "$dir/nginx-error.log" >&2; die "nginx + nchan did not start on $NCHAN_ADDR"; }
    for i in $(seq 50); do
        [ "$(children "$NGINX_PID" | wc -w)" -ge "$NGINX_WORKERS" ] && break
        sleep 0.1
    done
    NCHAN_PIDS="$NGINX_PID$(printf ',%s' $(children "$NGINX_PID"))"
}

stop_nchan() {
    [ -n "$NGINX_PID" ] && stop "$NGINX_PID"
    [ -f "$TMP/nchan/nginx-error.log" ] && cat "$TMP/nchan/nginx-error.log" >>"$RESULTS/logs/nchan.log"
    NGINX_PID=""
}
stop_push() { [ -n "$PUSH_PID" ] && stop "$PUSH_PID"; PUSH_PID=""; }

# ---------------------------------------------------------------- load generator

# bench SCENARIO TITLE TIMEOUT ARGS...: runs push-loadgen against a fresh
# push, then a fresh nginx + nchan, REPEAT times (interleaved, so that the
# machine's noise falls on both), and records every run; the report shows
# the medians. BENCH_SERVERS chooses other servers: push-cross is two
# engines and a redis-server (subscribers on B, publications on A).
bench() {
    local scenario="$1" title="$2" timeout="$3" server addr pids out rc note="${BENCH_NOTE:-}" rep
    local kind publish labels
    shift 3
    local args=("$@") i
    # Bound the connections by the open-files limit.
    for ((i = 0; i < ${#args[@]}; i++)); do
        if [ "${args[$i]}" = "--subscribers" ] && [ "${args[$((i + 1))]}" -gt "$MAX_CONNS" ]; then
            note="${note:+$note; }bounded from ${args[$((i + 1))]} to $MAX_CONNS subscribers by the open-files limit ($NOFILE)"
            args[$((i + 1))]=$MAX_CONNS
        fi
    done
    for rep in $(seq "$REPEAT"); do
        for server in ${BENCH_SERVERS:-push nchan}; do
            kind="$server"; publish=(); labels="push"
            case "$server" in
                push) start_push; addr="$PUSH_ADDR"; pids="$PUSH_PID" ;;
                push-pusher)
                    # The same engine with the Pusher protocol on; its
                    # subscribers speak it (--transport pusher).
                    start_engine push --pusher_app_id=1 --pusher_key=bench-key \
                        --pusher_secret=bench-secret-0123456789 ${PUSH_BENCH_ARGS:-}
                    PUSH_PID="$ENGINE_PID"; PUSH_ADDR="$ENGINE_ADDR"
                    kind=push; addr="$PUSH_ADDR"; pids="$PUSH_PID" ;;
                push-mercure)
                    # The same engine with the Mercure hub on, channels and
                    # topics one; its subscribers are Mercure's (--transport
                    # mercure), anonymous.
                    start_engine push --mercure=On --mercure_anonymous=On --mercure_channels=On \
                        --secret=bench-secret-0123456789abcdef0123456789 ${PUSH_BENCH_ARGS:-}
                    PUSH_PID="$ENGINE_PID"; PUSH_ADDR="$ENGINE_ADDR"
                    kind=push; addr="$PUSH_ADDR"; pids="$PUSH_PID" ;;
                nchan) start_nchan; addr="$NCHAN_ADDR"; pids="$NCHAN_PIDS"; labels="nginx (master and workers)" ;;
                push-cross)
                    start_cross; kind=push; addr="$CROSS_B"; publish=(--publish-addr "$CROSS_A")
                    pids="$CROSS_A_PID,$CROSS_B_PID,$BROKER_PID"; labels="engine A (publications),engine B (subscribers),redis-server" ;;
                *) die "unknown server $server" ;;
            esac
            say "$scenario $server (run $rep of $REPEAT): ${args[*]}"
            : > "$TMP/loadgen.err"
            local perf_pid=""
            rm -f "$TMP/perf"
            if [ "$SYSCALLS" != 0 ]; then
                perf stat -x, -e raw_syscalls:sys_enter -p "$pids" -o "$TMP/perf" >/dev/null 2>&1 &
                perf_pid=$!
            fi
            local run_args=("${args[@]}")
            if [ "$server" = push-pusher ] || [ "$server" = push-mercure ]; then
                for ((i = 0; i < ${#run_args[@]}; i++)); do
                    [ "${run_args[$i]}" = --transport ] && run_args[$((i + 1))]="${server#push-}"
                done
            fi
            run "$TMP/out" "$TMP/loadgen.err" timeout -k 5 $((timeout + 30)) "$LOADGEN" bench --server "$kind" \
                --addr "$addr" "${publish[@]}" "${run_args[@]}" --pids "$pids" --timeout "$timeout"
            rc=$?
            out="$(cat "$TMP/out")"
            if [ -n "$perf_pid" ]; then
                kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null
                # The count of the whole run (set-up included), per delivery.
                out="$(php -r '$o = json_decode($argv[1], true);
                    if (is_array($o) && preg_match("/^(\d+),,raw_syscalls:sys_enter/m", (string) @file_get_contents($argv[2]), $m)) {
                        $o["syscalls"] = (int) $m[1];
                        if (($o["delivered"] ?? 0) > 0) { $o["syscalls_per_msg"] = round($m[1] / $o["delivered"], 2); }
                    }
                    echo is_array($o) ? json_encode($o) : $argv[1];' "$out" "$TMP/perf")"
            fi
            if [ $rc -ne 0 ] || [ -z "$out" ]; then
                out="$(php -r 'echo json_encode(["error" => "push-loadgen exit " . $argv[1] . ": " . trim(substr($argv[2], -400))]);' "$rc" "$(cat "$TMP/loadgen.err")")"
            fi
            # nchan: its master; push-cross: A, B and redis-server.
            local check="${pids%%,*}" p
            [ "$server" = push-cross ] && check="${pids//,/ }"
            for p in $check; do
                alive "$p" || out="$(php -r '$o = json_decode($argv[1], true) ?: []; $o["error"] = trim(($o["error"] ?? "") . " server process " . $argv[2] . " exited during the run"); echo json_encode($o);' "$out" "$p")"
            done
            cp "$TMP/loadgen.err" "$RESULTS/logs/loadgen-$scenario-$server-$rep.err"
            record loadgen "$(php -r '$o = json_decode($argv[1], true) ?: ["error" => $argv[1]];
                echo json_encode(["scenario" => $argv[2], "title" => $argv[3], "server" => $argv[4], "run" => (int) $argv[7], "args" => $argv[5], "note" => $argv[6], "processes" => explode(",", $argv[8])] + $o);' \
                "$out" "$scenario" "$title" "$server" "${args[*]}" "$note" "$rep" "$labels")"
            case "$server" in
                push|push-pusher|push-mercure) stop_push ;;
                nchan) stop_nchan ;;
                push-cross) stop_cross ;;
            esac
            sleep 1   # let the closed connections settle
        done
    done
}

# ---------------------------------------------------------------- scenario 7: PHP

php_scenario() {
    local rport dir="$TMP/redis" mode sock n run out
    mkdir -p "$dir"
    rport="$(free_port)"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        >>"$RESULTS/logs/redis.log" 2>&1 &
    local redis_pid=$!
    STARTED+=("$redis_pid")
    start_push
    for i in $(seq 100); do
        redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
    for mode in engine-send worker-send redis-publish engine-wake worker-wake redis-wake; do
        # In-process engines get their own socket (one engine per socket).
        sock="$TMP/push.sock"; [[ "$mode" == engine-* ]] && sock="$TMP/inproc.sock"
        n=20000; [[ "$mode" == *wake ]] && n=200
        for run in $(seq "$PHP_RUNS"); do
            say "php $mode run $run"
            REDIS_PORT="$rport" run "$TMP/out" "$RESULTS/logs/php.err" timeout -k 5 90 php -d "push.socket=$sock" "$SCEN/php-send.php" "$mode" "$n"
            out="$(cat "$TMP/out")"
            [ -n "$out" ] || out="{\"mode\":\"$mode\",\"error\":\"failed, see logs/php.err\"}"
            record php "$(php -r 'echo json_encode(["run" => (int) $argv[2]] + (json_decode($argv[1], true) ?: []));' "$out" "$run")"
        done
    done
    stop_push
    stop "$redis_pid"
}

# ---------------------------------------------------------------- the tutorial under php-fpm

FPM_PID=""; WEB_NGINX_PID=""; WEB_ADDR=""
start_fpm() {
    local dir="$TMP/fpm" fport wport
    rm -rf "$dir"; mkdir -p "$dir"
    fport="$(free_port)"
    cat > "$dir/fpm.conf" <<CONF
[global]
error_log = $dir/fpm.log
daemonize = no
pid = $dir/fpm.pid
[www]
user = root
group = root
listen = 127.0.0.1:$fport
; queued requests wait here while every worker is busy
listen.backlog = 511
pm = static
pm.max_children = $FPM_CHILDREN
clear_env = no
php_admin_value[push.socket] = $TMP/push.sock
php_admin_value[max_execution_time] = 0
CONF
    PHP_INI_SCAN_DIR="$TMP/php-fpm.d" "/usr/sbin/php-fpm$PHP_VER" -F -R -y "$dir/fpm.conf" -c "$PHP_ETC/fpm/php.ini" \
        >>"$RESULTS/logs/fpm.log" 2>&1 &
    FPM_PID=$!
    STARTED+=("$FPM_PID")
    wport="$(free_port)"
    WEB_ADDR="127.0.0.1:$wport"
    cat > "$dir/nginx.conf" <<CONF
user root;
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    fastcgi_temp_path $dir/fastcgi;
    proxy_temp_path $dir/proxy;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen $WEB_ADDR;
        location = /tutorial-stream.php {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $SCEN/tutorial-stream.php;
            fastcgi_param BENCH_MESSAGE_FILE $dir/message;
            fastcgi_pass 127.0.0.1:$fport;
            fastcgi_buffering off;
            fastcgi_read_timeout 120s;
        }
        location = /stream.php {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $ROOT/examples/fpm/stream.php;
            fastcgi_pass 127.0.0.1:$fport;
            fastcgi_buffering off;
            fastcgi_read_timeout 120s;
        }
    }
}
CONF
    /usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir" >>"$RESULTS/logs/fpm.log" 2>&1 &
    WEB_NGINX_PID=$!
    STARTED+=("$WEB_NGINX_PID")
    local i
    for i in $(seq 100); do
        [ "$(children "$FPM_PID" | wc -w)" -ge "$FPM_CHILDREN" ] && curl -s -o /dev/null --max-time 1 "http://$WEB_ADDR/" && break
        sleep 0.1
    done
}
stop_fpm() {
    [ -n "$WEB_NGINX_PID" ] && stop "$WEB_NGINX_PID"
    [ -n "$FPM_PID" ] && stop "$FPM_PID"
    cat "$TMP/fpm/fpm.log" "$TMP/fpm/nginx-error.log" >>"$RESULTS/logs/fpm.log" 2>/dev/null
    WEB_NGINX_PID=""; FPM_PID=""
}

# One client run: 50 SSE connections, 10 messages 1.25 s apart (slower
# than the tutorial's 1 s loop, so its misses are its queue, not its rate).
sse_clients() {
    local label="$1" url="$2" publish="$3" pids="$4" out
    say "tutorial: $label"
    run "$TMP/out" "$RESULTS/logs/tutorial.err" timeout -k 5 90 php "$SCEN/sse-clients.php" --label "$label" --url "$url" \
        --clients "$TUTORIAL_CLIENTS" --messages 10 --interval 1.25 --connect-wait 3 --publish "$publish" --pids "$pids"
    out="$(cat "$TMP/out")"
    [ -n "$out" ] || out="{\"label\":\"$label\",\"error\":\"failed, see logs/tutorial.err\"}"
    record tutorial "$out"
}

tutorial_scenario() {
    start_push
    sse_clients "push engine /sse" "http://$PUSH_ADDR/sse/tutorial" "http:http://$PUSH_ADDR/publish/tutorial" "$PUSH_PID"
    start_fpm
    sse_clients "tutorial stream.php (sleep 1) on php-fpm" "http://$WEB_ADDR/tutorial-stream.php" "file:$TMP/fpm/message" "$FPM_PID"
    stop_fpm
    start_fpm
    sse_clients "examples/fpm/stream.php (push_get_message) on php-fpm" "http://$WEB_ADDR/stream.php?channel=tutorial" \
        "http:http://$PUSH_ADDR/publish/tutorial" "$FPM_PID"
    stop_fpm
    stop_push
}

# ---------------------------------------------------------------- the run

BEGAN=$(date +%s)
record meta "$(php "$SCEN/report.php" meta "$ROOT" "$NOFILE" "$HISTORY" "$HISTORY_TTL" "$NGINX_WORKERS" "$FPM_CHILDREN")"

# Is push-loadgen the one with `bench`? One subscriber, one message.
if [[ " $ONLY " == *" s"[1-68]* ]]; then
start_push
if ! probe="$(timeout 30 "$LOADGEN" bench --server push --addr "$PUSH_ADDR" --transport ws --subscribers 1 --channels 1 \
        --messages 1 --rate 10 --timeout 10 --pids "$PUSH_PID" 2>&1)" || [[ "$probe" != *'"delivered"'* ]]; then
    die "push-loadgen bench does not work ($probe): run cargo build --release -p push-bench"
fi
stop_push
fi

wants s1 && bench s1 "1,000 WebSocket subscribers, one channel, 100 messages at 10/s" 60 \
    --transport ws --subscribers 1000 --channels 1 --messages 100 --rate 10
wants s2 && bench s2 "10,000 SSE subscribers, one channel, 50 messages at 5/s" 90 \
    --transport sse --subscribers 10000 --channels 1 --messages 50 --rate 5
S3_NOTE="the idle WebSocket and SSE connections are measured in separate runs (one transport per load-generator run; and 20,000 connections at once need more than the open-files limit of $NOFILE here)"
wants s3 && BENCH_NOTE="$S3_NOTE" bench s3-ws "10,000 idle WebSocket connections: memory per connection" 60 \
    --transport ws --subscribers 10000 --channels 1 --messages 0 --rate 0 --idle
wants s3 && BENCH_NOTE="$S3_NOTE" bench s3-sse "10,000 idle SSE connections: memory per connection" 60 \
    --transport sse --subscribers 10000 --channels 1 --messages 0 --rate 0 --idle
wants s4 && bench s4 "1,000 WebSocket subscribers, publishing as fast as possible for 10 s" 60 \
    --transport ws --subscribers 1000 --channels 1 --messages 0 --rate 0 --duration 10
wants s5 && bench s5 "10,000 WebSocket subscribers over 1,000 channels, 5,000 messages at 500/s" 90 \
    --transport ws --subscribers 10000 --channels 1000 --messages 5000 --rate 500
wants s6 && bench s6 "1,000 long-poll subscribers, one channel, 50 messages at 5/s" 40 \
    --transport poll --subscribers 1000 --channels 1 --messages 50 --rate 5
wants s9 && bench s9 "one WebSocket subscriber, 1,000 messages back to back" 30 \
    --transport ws --subscribers 1 --channels 1 --messages 1000 --rate 0 --publishers 1
wants s9 && bench s9-sse "one SSE subscriber, 1,000 messages back to back" 30 \
    --transport sse --subscribers 1 --channels 1 --messages 1000 --rate 0 --publishers 1
# s10: the Pusher protocol against push's own WebSocket, one engine each.
wants s10 && BENCH_SERVERS="push-pusher push" bench s10 "the Pusher protocol: 1,000 pusher-protocol subscribers, one channel, 100 messages at 10/s, against s1 on push's own WebSocket" 60 \
    --transport ws --subscribers 1000 --channels 1 --messages 100 --rate 10
# s11: the Mercure hub against push's own SSE, one engine each.
wants s11 && BENCH_SERVERS="push-mercure push" bench s11 "the Mercure hub: 1,000 Mercure subscribers, one topic, 100 messages at 10/s, against 1,000 subscribers on push's own SSE" 60 \
    --transport sse --subscribers 1000 --channels 1 --messages 100 --rate 10
# s8: push against itself, the subject first (push-cross, then push).
wants s8 && BENCH_SERVERS="push-cross push" bench s8 "cross-engine: 1,000 WebSocket subscribers on engine B, 100 messages at 10/s published on engine A" 60 \
    --transport ws --subscribers 1000 --channels 1 --messages 100 --rate 10
wants s8 && BENCH_SERVERS="push-cross push" bench s8-flat "cross-engine: 1,000 WebSocket subscribers on engine B, publishing on engine A as fast as possible for $S8_FLAT_SECONDS s" 60 \
    --transport ws --subscribers 1000 --channels 1 --messages 0 --rate 0 --duration "$S8_FLAT_SECONDS" --window "$S8_WINDOW"
wants php && php_scenario
wants tutorial && tutorial_scenario

record end "{\"elapsed_s\": $(($(date +%s) - BEGAN))}"
php "$SCEN/report.php" "$JSON" > "$RESULTS/latest.md"
cat "$RESULTS/latest.md"
say "written: bench/results/latest.md, bench/results/latest.json ($(($(date +%s) - BEGAN)) s)"
