#!/usr/bin/env bash
# The soak: SOAK_SECONDS (default 1800) of mixed connect / subscribe /
# publish / disconnect load on every transport — WebSocket, SSE, long-poll,
# POST /publish, WebSocket client publishing, and PHP worker processes
# coming and going on push.socket — with hostile clients mixed in, against
# one engine (bin/push-server). push-loadgen samples the engine's RSS, open
# fds and threads from /proc at the start, every second during the load and
# after (every client gone, a sweep passed), prints a table, and fails if
# they did not return near the baseline, a well-behaved client (or PHP
# worker) saw an error, or a hostile client was not refused as due.
#
#   bench/soak.sh                      # 30 minutes
#   SOAK_SECONDS=120 bench/soak.sh     # a short run
#
# Not part of scripts/test.sh: it takes the machine for its duration.
source "$(dirname "$0")/../scripts/lib.sh"
seconds="${SOAK_SECONDS:-1800}"
workers="${SOAK_PHP_WORKERS:-2}"
[ -f "$SO" ] || build_release
(cd "$ROOT" && cargo build --release -p push-bench >/dev/null)
loadgen="$ROOT/target/release/push-loadgen"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work="$(mktemp -d)"
socket="$work/push.sock"
php_cmd=(php -n -d "extension=$SO")
cleanup() {
    [ -n "${engine:-}" ] && kill "$engine" 2>/dev/null && wait "$engine" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

say "engine (bin/push-server)"
"${php_cmd[@]}" "$ROOT/bin/push-server" --listen=127.0.0.1:0 --socket="$socket" \
    --keepalive=5 --sweep_interval=2 --history_ttl=60 --client_publish=soak-chat \
    2>"$work/engine.log" &
engine=$!
for _ in $(seq 100); do
    addr="$(sed -n 's#.*listening on http://\([0-9.:]*\).*#\1#p' "$work/engine.log" | head -n 1)"
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$work/engine.log" >&2; exit 1; }
say "soak: ${seconds} s against $addr (pid $engine), $workers PHP worker loops"

# PHP workers: processes of 2-6 s each, one after another, until the end.
end=$(( $(date +%s) + seconds ))
loops=()
for w in $(seq "$workers"); do
    (
        while [ "$(date +%s)" -lt "$end" ]; do
            left=$(( end - $(date +%s) ))
            span=$(( 2 + RANDOM % 5 ))
            [ "$span" -gt "$left" ] && span=$left
            [ "$span" -le 0 ] && break
            "${php_cmd[@]}" -d "push.socket=$socket" "$ROOT/bench/soak-worker.php" "$span" >>"$work/php-$w.log" 2>&1 || true
        done
    ) &
    loops+=($!)
done

status=0
"$loadgen" soak --addr "$addr" --socket "$socket" --pid "$engine" --duration "$seconds" --settle 6 || status=$?
for p in "${loops[@]}"; do wait "$p" || true; done
runs=$(cat "$work"/php-*.log 2>/dev/null | grep -c '^ok ' || true)
calls=$(cat "$work"/php-*.log 2>/dev/null | awk '/^ok /{s+=$2} END{print s+0}')
errors=$(cat "$work"/php-*.log 2>/dev/null | grep -v '^ok ' || true)
echo
echo "| PHP workers | processes | round trips | errors |"
echo "|---|---:|---:|---:|"
echo "| soak-worker.php | $runs | $calls | $(printf '%s' "$errors" | grep -c . || true) |"
if [ -n "$errors" ]; then
    printf 'php: %s\n' "$errors" | head -n 5
    echo "FAIL: PHP workers saw errors"
    status=1
fi
if ! kill -0 "$engine" 2>/dev/null; then
    echo "FAIL: the engine is gone"
    cat "$work/engine.log" >&2
    status=1
fi
exit $status
