#!/usr/bin/env bash
# Installs target/release/libpush.so as push.so in PHP's extension directory
# and enables it for the CLI and FPM (Debian's phpenmod), so `php -m` lists
# push. Builds first if needed.
source "$(dirname "$0")/lib.sh"
[ -f "$SO" ] || build_release
dir="$(php-config --extension-dir)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
say "installing push.so into $dir"
$sudo install -m 0644 "$SO" "$dir/push.so"
ver="$(php -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')"
if [ -d "/etc/php/$ver/mods-available" ]; then
    printf '; push: realtime push engine\nextension=push.so\n' | $sudo tee "/etc/php/$ver/mods-available/push.ini" >/dev/null
    $sudo phpenmod -v "$ver" push
else
    confd="$(php --ini | sed -n 's/^Scan for additional .ini files in: //p')"
    printf 'extension=push.so\n' | $sudo tee "$confd/20-push.ini" >/dev/null
fi
# grep reads all of php -m's output (grep -q would stop early, and php,
# writing into a closed pipe, exits 255, which pipefail reports).
if php -m | grep -x push >/dev/null; then
    say "push is enabled: $(php -r 'echo phpversion("push");')"
else
    say "push.so is installed in $dir, but php -m does not list push"
    exit 1
fi
