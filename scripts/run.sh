#!/usr/bin/env bash
# The main job: installs what is missing, builds push, installs it, and runs
# the engine in the foreground (Ctrl-C stops it). Extra arguments are
# push settings, e.g. scripts/run.sh --listen=0.0.0.0:8080
source "$(dirname "$0")/lib.sh"
build_release
"$ROOT/scripts/install.sh"
exec php "$ROOT/bin/push-server" "$@"
