#!/usr/bin/env bash
# scripts/package-test.sh — installs the Debian package on a machine without
# Rust, uses it, purges it, and checks that nothing is left behind.
#
#   FRESH=/path/to/fresh scripts/package-test.sh   # each of FRESH_SUITES (default
#       "bookworm trixie") in a pristine chroot without Rust (NO_RUST=1), with
#       dist/'s packages (scripts/package.sh makes them); as root
#   scripts/package-test.sh [DIR]   # here, as root: a THROWAWAY Debian 12 or 13
#       (it installs and purges packages); the .deb from DIR (default /root/in,
#       then dist/)
#
# Inside, in order: `apt-get install ./php8.X-push_*.deb` on the pristine
# system (it pulls PHP), `php -m` lists push; push-server runs as the unit runs
# it (user push, group push plus www-data, /run/push/); php-fpm (Debian's
# php8.X-fpm with its own configuration, installed after push: the module must
# be enabled for it too) answers a FastCGI request (cgi-fcgi) whose script
# calls push_send(), and a CLI worker reads that message back through the
# engine; then `apt-get purge` and the checks: no path naming push is left,
# and a second install/use/purge cycle leaves the file list exactly as the
# first purge did (a reinstall in between takes the upgrade path).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
say() { printf '==> %s\n' "$*" >&2; }
fail() { printf '==> FAIL: %s\n' "$*" >&2; exit 1; }

if [ -n "${FRESH:-}" ]; then
    [ "$(id -u)" -eq 0 ] || fail "the fresh tool needs root"
    ls "$ROOT"/dist/*.deb >/dev/null 2>&1 || fail "no dist/*.deb: run scripts/package.sh first"
    for suite in ${FRESH_SUITES:-bookworm trixie}; do
        say "testing the package in a fresh $suite chroot without Rust"
        NO_RUST=1 FRESH_COPY="$ROOT/dist" SUITE="$suite" TIMEOUT=1800 \
            LOG="$ROOT/target/package-test-$suite.log" \
            "$FRESH/run.sh" "$ROOT" 'scripts/package-test.sh /root/in' \
            || fail "$suite (log: target/package-test-$suite.log)"
    done
    say "PASS on ${FRESH_SUITES:-bookworm trixie}"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || fail "run as root, on a throwaway system"
export DEBIAN_FRONTEND=noninteractive
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
case "$codename" in
    bookworm) php=8.2 ;;
    trixie) php=8.4 ;;
    *) fail "Debian 12 or 13 needed, this is '$codename'" ;;
esac
pkg="php$php-push"
dir="${1:-/root/in}"
[ -d "$dir" ] || dir="$ROOT/dist"
deb="$(ls "$dir"/"$pkg"_*.deb 2>/dev/null | sort -V | tail -n1)"
[ -n "$deb" ] || fail "no $pkg_*.deb in $dir"
command -v cargo rustc >/dev/null 2>&1 && say "NOTE: this machine has Rust (cargo/rustc in PATH)"
say "Debian $codename, PHP $php, $(basename "$deb")"

# The file list of the system, without what changes by itself (apt's lists
# and caches, logs, /tmp, /run, the kernel's file systems, this checkout).
snapshot() {
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
        -o -path /var/tmp -o -path /var/log -o -path /var/cache -o -path /var/lib/apt \
        -o -path /root \) -prune -o -print 2>/dev/null | sort > "$1"
}
T="$(mktemp -d)"

apt-get update -q >/dev/null
snapshot "$T/pristine"

say "apt-get install ./$(basename "$deb") (on a system without PHP)"
cp "$deb" "$T/"
apt-get install -y -q --no-install-recommends "$T/$(basename "$deb")" > "$T/install.log" 2>&1 \
    || { cat "$T/install.log"; fail "install"; }
sed -n '/^The following NEW packages will be installed:/,/^[0-9]* upgraded/p' "$T/install.log"
grep -E '^(Setting up|Unpacking) php' "$T/install.log" | grep push || true

say "php -m, phpversion('push'), the files"
php -m | grep -x push || fail "php -m does not list push"
printf 'phpversion: %s\n' "$(php -r 'echo phpversion("push");')"
dpkg-query -W -f='Version: ${Version}\nDepends: ${Depends}\n' "$pkg"
for f in "$(php-config$php --extension-dir 2>/dev/null || php -r 'echo ini_get("extension_dir");')/push.so" \
         /etc/php/$php/mods-available/push.ini /etc/php/$php/cli/conf.d/20-push.ini /usr/bin/push-server; do
    [ -e "$f" ] || fail "missing $f"
    ls -l "$f"
done
unit="$(dpkg -L "$pkg" | grep '/push-server\.service$')" || fail "no unit"
ls -l "$unit"
getent passwd push || fail "no user push"
head -n1 /usr/bin/push-server

say "push-server, as push-server.service runs it (user push, groups push and www-data, /run/push)"
mkdir -p /run/push && chown push:push /run/push
port=$((20000 + RANDOM % 20000))
setpriv --reuid=push --regid=push --groups=www-data -- \
    /usr/bin/push-server --listen=127.0.0.1:$port > "$T/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -S /run/push/push.sock ] && break; sleep 0.1; done
[ -S /run/push/push.sock ] || { cat "$T/server.log"; fail "push-server made no socket"; }
cat "$T/server.log"
stat -c 'socket: %n %U:%G %a' /run/push/push.sock

say "apt-get install php$php-fpm libfcgi-bin (after push: push must be enabled for fpm too)"
apt-get install -y -q --no-install-recommends php$php-fpm libfcgi-bin > "$T/fpm.log" 2>&1 \
    || { cat "$T/fpm.log"; fail "install php-fpm"; }
ls -l /etc/php/$php/fpm/conf.d/20-push.ini || fail "push is not enabled for fpm"
mkdir -p /run/php /var/www/push-test
cat > /var/www/push-test/publish.php <<'EOF'
<?php
$id = push_send('news', 'hello from php-fpm');
$s = push_stats();
header('Content-Type: text/plain');
echo 'sapi=', PHP_SAPI, ' uid=', function_exists('posix_geteuid') ? posix_geteuid() : '?',
    ' role=', $s['role'], ' push ', phpversion('push'), ' id=', $id, "\n";
EOF
first="$(php -r 'echo push_send("news", "first, from the CLI");')"
echo "CLI worker: push_send() -> $first"
/usr/sbin/php-fpm$php --daemonize
for _ in $(seq 100); do [ -S /run/php/php$php-fpm.sock ] && break; sleep 0.1; done
answer="$(SCRIPT_FILENAME=/var/www/push-test/publish.php REQUEST_METHOD=GET \
    cgi-fcgi -bind -connect /run/php/php$php-fpm.sock)" || fail "cgi-fcgi"
printf '%s\n' "$answer" | tr -d '\r'
printf '%s\n' "$answer" | grep 'sapi=fpm-fcgi .*role=worker' > /dev/null || fail "php-fpm's answer"
got="$(php -r '$m = push_get_message("news", 2, $argv[1]); echo $m ? $m->data : "(none)";' "$first")"
echo "CLI worker: push_get_message() after $first -> $got"
[ "$got" = "hello from php-fpm" ] || fail "the fpm worker's message did not come through the engine"
kill "$(cat /run/php/php$php-fpm.pid)"
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
echo "push-server: exit $rc on SIGTERM"; tail -n1 "$T/server.log"
[ "$rc" -eq 0 ] || fail "push-server's exit"
for _ in $(seq 50); do [ -e /run/php/php$php-fpm.pid ] || break; sleep 0.1; done
rm -rf /run/push   # systemd removes the RuntimeDirectory when the unit stops
rm -rf /var/www/push-test

dpkg -L "$pkg" > "$T/owned"
say "apt-get purge $pkg"
apt-get purge -y -q "$pkg" 2>&1 | grep -Ev '^(Reading|Building|\(Reading)' || true
snapshot "$T/purged"
left="$(grep -i push "$T/purged" || true)"
[ -z "$left" ] || { printf '%s\n' "$left"; fail "files naming push left after purge"; }
while read -r f; do
    [ -d "$f" ] || [ ! -e "$f" ] || fail "$f left after purge"
done < "$T/owned"
php -m | grep -x push > /dev/null && fail "php -m still lists push"
echo "no file of $pkg or naming push is left ($(wc -l < "$T/owned") paths were the package's)"
echo "user push: $(getent passwd push || echo '(removed)') (kept, as Debian keeps system users)"
echo "files added since the pristine system: $(comm -13 "$T/pristine" "$T/purged" | wc -l) (PHP and what it pulled in, still installed)"

say "a second install, use and purge leaves exactly the same files"
apt-get install -y -q --no-install-recommends "$T/$(basename "$deb")" > "$T/install2.log" 2>&1 \
    || { cat "$T/install2.log"; fail "second install"; }
php -r 'echo "push ", phpversion("push"), " loaded\n";'
# the same package again: the upgrade path of the maintainer scripts (dh_php
# disables the module in preinst and enables it again in postinst)
dpkg -i "$T/$(basename "$deb")" > /dev/null
php -m | grep -x push > /dev/null || fail "push is not enabled after a reinstall"
[ -L /etc/php/$php/fpm/conf.d/20-push.ini ] || fail "push is not enabled for fpm after a reinstall"
echo "reinstalled (dpkg -i, the upgrade path): push still enabled for cli and fpm"
mkdir -p /run/php && /usr/sbin/php-fpm$php --daemonize
for _ in $(seq 100); do [ -S /run/php/php$php-fpm.sock ] && break; sleep 0.1; done
kill "$(cat /run/php/php$php-fpm.pid)"; sleep 0.5
apt-get purge -y -q "$pkg" > /dev/null 2>&1
snapshot "$T/purged2"
if ! diff "$T/purged" "$T/purged2"; then fail "the second cycle left files"; fi
echo "file lists after the first and the second purge are identical ($(wc -l < "$T/purged2") paths)"
rm -rf "$T"
say "PASS: $pkg on Debian $codename without Rust"
