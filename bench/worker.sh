#!/usr/bin/env bash
# Worker round trips — push_send() over push.socket and push_get_message()
# wake-ups — against a reference measured in the same run: the same round
# trip from PHP to a PHP echo server over a Unix socket.
#   bench/worker.sh [CALLS_PER_RUN]
source "$(dirname "$0")/../scripts/lib.sh"
[ -f "$SO" ] || build_release
php "$ROOT/bench/worker.php" "$SO" "${1:-20000}"
