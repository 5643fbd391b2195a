#!/usr/bin/env bash
# scripts/pie-test.sh — the build PIE runs, from a checkout: `composer
# validate` of composer.json, then `phpize && ./configure && make` (config.m4
# runs cargo), and the module it gives loads with Cargo.toml's version.
#
#   scripts/pie-test.sh                          # here: Debian 12 or 13 with Rust (installs
#                                                # composer, phpize and libclang with apt)
#   FRESH=/path/to/fresh scripts/pie-test.sh     # in a fresh chroot of each FRESH_SUITES
#                                                # (default "trixie": Debian 12's composer 2.5
#                                                # predates the php-ext schema)
#
# It builds in a copy (target/pie/), so the checkout gets no phpize files.
source "$(dirname "$0")/lib.sh"

if [ -n "${FRESH:-}" ]; then
    for suite in ${FRESH_SUITES:-trixie}; do
        say "PIE's build in a fresh $suite chroot"
        SUITE="$suite" LOG="$ROOT/target/pie-test-$suite.log" "$FRESH/run.sh" "$ROOT" 'scripts/pie-test.sh'
    done
    exit 0
fi

apt_need build-essential php-dev libclang-dev composer
command -v cargo >/dev/null || { say "cargo not found: install Rust (https://rustup.rs)"; exit 1; }
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)"

say "composer validate ($(composer --version 2>/dev/null | head -n1))"
rc=0
(cd "$ROOT" && composer validate --no-interaction 2>&1) || rc=$?
# 0: valid; 1: warnings only (the version field, which scripts/package.sh
# keeps equal to Cargo.toml's); 2 and up: errors
[ "$rc" -le 1 ] || { say "composer.json is not valid (exit $rc)"; exit 1; }
cv="$(php -r 'echo json_decode(file_get_contents($argv[1]))->version;' "$ROOT/composer.json")"
[ "$cv" = "$version" ] || { say "composer.json's version $cv is not Cargo.toml's $version"; exit 1; }

build="$ROOT/target/pie/push-$version"
rm -rf "$ROOT/target/pie"
mkdir -p "$build"
tar -C "$ROOT" --exclude=./target --exclude=./dist --exclude=./.git --exclude=node_modules -cf - . | tar -C "$build" -xf -
say "phpize && ./configure && make in $build"
(
    cd "$build"
    phpize
    ./configure --with-php-config="$(command -v php-config)"
    CARGO_TARGET_DIR="$ROOT/target" make
)
so="$build/modules/push.so"
[ -f "$so" ] || { say "no modules/push.so"; exit 1; }
got="$(php -n -d extension="$so" -r 'echo phpversion("push");')"
say "modules/push.so: PHP $(php-config --version), phpversion('push') = $got"
[ "$got" = "$version" ] || { say "phpversion('push') is not Cargo.toml's $version"; exit 1; }
say "PASS: PIE's build gives push $got"
