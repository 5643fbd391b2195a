#!/usr/bin/env bash
# Runs every test: the engine's cargo tests, then PHPUnit against the built
# extension. Installs what is missing first.
source "$(dirname "$0")/lib.sh"
build_release
php_need xml mbstring fpm
apt_need phpunit nginx-light chromium redis-server redis-tools php-symfony-mercure
command -v node >/dev/null || apt_need nodejs npm
cd "$ROOT"
say "npm ci (playwright-core, for the browser tests)"
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
# PyPI's pusher (the Python server library) checks the Pusher webhooks'
# signatures in php-tests/PusherTest.php; Debian has no package of it.
apt_need python3-venv
say "PyPI pusher 3.3.4 (for the webhook tests) in target/pyenv"
[ -x target/pyenv/bin/python ] || /usr/bin/python3 -m venv target/pyenv
target/pyenv/bin/pip install -q --disable-pip-version-check pusher==3.3.4
say "cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --release --workspace -- -D warnings
say "php -l stubs/push.stub.php"
php -n -l stubs/push.stub.php   # -n: an installed push.so would clash with the declarations
status=0
say "cargo test (engine)"
cargo test --release -p push-engine -p push-bench || status=$?
say "fuzz (each target ${FUZZ_SECONDS:-10} s)"
bash "$ROOT/scripts/fuzz.sh" || status=$?
say "PHPUnit (extension: $SO)"
# PHP's own conf.d, minus any installed push.ini, plus this build: every php
# the tests start (they inherit PHP_INI_SCAN_DIR) loads this very build.
scan="$(mktemp -d)"
trap 'rm -rf "$scan"' EXIT
confd="$(php --ini | sed -n 's/^Scan for additional .ini files in: //p')"
for f in "$confd"/*.ini; do
    case "$(basename "$f")" in *push*) ;; *) ln -s "$f" "$scan/" ;; esac
done
printf 'extension=%s\n' "$SO" >"$scan/zz-push-test.ini"
# PHPUnit 9 (Debian 12) and 10+ (Debian 13: 11.5) read different
# configuration schemas: each gets its own file, with the same strictness.
phpunit_major="$(php /usr/bin/phpunit --version | sed -n 's/^PHPUnit \([0-9]*\)\..*/\1/p')"
config=php-tests/phpunit.xml.dist
[ "${phpunit_major:-9}" -ge 10 ] && config=php-tests/phpunit10.xml.dist
say "PHPUnit $phpunit_major on PHP $(php -r 'echo PHP_VERSION;') ($config)"
PHP_INI_SCAN_DIR="$scan" PUSH_SO="$SO" php /usr/bin/phpunit -c "$config" || status=$?
exit $status
