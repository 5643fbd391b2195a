#!/usr/bin/env bash
# The main job: installs what is missing, builds push, installs it, and runs
# the WebSocket chat example — the engine on ws://127.0.0.1:8080 and its page
# on http://127.0.0.1:8000 (PUSH_LISTEN and PAGE_ADDR change them). Lines
# typed here are announced to the chat by PHP; Ctrl-C stops both.
source "$(dirname "$0")/lib.sh"
build_release
"$ROOT/scripts/install.sh"
listen="${PUSH_LISTEN:-127.0.0.1:8080}"
page="${PAGE_ADDR:-127.0.0.1:8000}"
php -S "$page" -t "$ROOT/examples/chat" >/dev/null 2>&1 &
page_pid=$!
trap 'kill $page_pid 2>/dev/null' EXIT
say "open http://$page/?engine=$listen in a browser (two tabs to chat)"
PUSH_LISTEN="$listen" php "$ROOT/examples/chat/server.php"
