#!/usr/bin/env bash
# scripts/package.sh — builds the Debian package of push for this machine's
# PHP: php8.2-push on Debian 12, php8.4-push on Debian 13, into dist/.
#
#   scripts/package.sh                    # here: a Debian 12 or 13 host with Rust (cargo)
#   FRESH=/path/to/fresh scripts/package.sh   # both, each in a pristine chroot of its
#                                             # Debian (the fresh tool: run.sh, as root)
#
# Native mode installs the build dependencies that are missing (apt, with sudo
# if you are not root), copies the checkout to target/deb/php-push-VERSION/,
# writes debian/control and debian/changelog there for this PHP (the version
# is Cargo.toml's), runs `dpkg-buildpackage -b` (debian/rules: cargo, then
# dh with dh_php), runs lintian (errors fail the build) and copies the .deb to
# dist/. Cargo builds into the checkout's target/, so a second run reuses it.
#
# FRESH mode runs this same script (native mode) inside a throwaway chroot of
# each suite in FRESH_SUITES (default "bookworm trixie") from the committed
# HEAD, and copies the .debs it made out to dist/.
source "$(dirname "$0")/lib.sh"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)"
[ -n "$VERSION" ] || { say "no version in Cargo.toml"; exit 1; }
DIST="$ROOT/dist"
mkdir -p "$DIST"

# The versions that must agree: Cargo.toml (phpversion('push') is
# CARGO_PKG_VERSION), composer.json, and CHANGELOG.md's latest release.
check_versions() {
    local composer changelog
    composer="$(sed -n 's/^ *"version": *"\(.*\)",*$/\1/p' "$ROOT/composer.json" | head -n1)"
    changelog="$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' "$ROOT/CHANGELOG.md" | head -n1)"
    if [ "$composer" != "$VERSION" ] || [ "$changelog" != "$VERSION" ]; then
        say "versions differ: Cargo.toml $VERSION, composer.json '$composer', CHANGELOG.md '$changelog'"
        exit 1
    fi
}

# Every setting of the engine's table has its line, with its default, in
# debian/push.ini.
check_ini() {
    local table="$ROOT/crates/push-engine/src/config/table.rs" ini="$ROOT/debian/push.ini" bad=0
    while read -r name default; do
        if ! grep -Eq "^;?push\.$name =( |$)" "$ini"; then
            say "debian/push.ini lacks push.$name"; bad=1
        elif ! grep -Fxq ";push.$name = $default" "$ini" && ! grep -Fxq ";push.$name =$default" "$ini" \
            && [ "$name" != socket ] && [ "$name" != socket_group ]; then
            say "debian/push.ini: push.$name's default is not $default"; bad=1
        fi
    done < <(tr '\n' ' ' < "$table" | grep -o 'setting!( *[a-z_]*, *"[^"]*"' \
        | sed 's/setting!( *\([a-z_]*\), *"\([^"]*\)"/\1 \2/')
    [ "$bad" = 0 ] || exit 1
}

fresh_build() {
    [ "$(id -u)" -eq 0 ] || { say "FRESH mode runs the fresh tool, which needs root"; exit 1; }
    local suite out kept name
    name="$(basename "$ROOT")"
    for suite in ${FRESH_SUITES:-bookworm trixie}; do
        say "building in a fresh $suite chroot (HEAD $(git -C "$ROOT" rev-parse --short HEAD); uncommitted changes are not seen)"
        out="$ROOT/target/package-$suite.log"
        mkdir -p "$ROOT/target"
        # the chroot has no git: the commit's date goes in by hand
        KEEP=1 SUITE="$suite" LOG="$out.inner" "$FRESH/run.sh" "$ROOT" \
            "SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct) scripts/package.sh" 2>&1 | tee "$out"
        local rc=${PIPESTATUS[0]}
        kept="$(sed -n 's/^\[fresh\] kept \(\/tmp\/fresh-[A-Za-z0-9]*\)$/\1/p' "$out" | tail -n1)"
        if [ "$rc" -eq 0 ] && [ -n "$kept" ]; then
            cp -v "$kept"/upper/root/"$name"/dist/*.deb "$DIST/"
        fi
        [ -n "$kept" ] && [ -d "$kept" ] && rm -rf --one-file-system "$kept"
        [ "$rc" -eq 0 ] || { say "the $suite build failed (exit $rc), see $out"; exit "$rc"; }
    done
    ls -l "$DIST"/*.deb
}

native_build() {
    local codename debver php phpmajor standards stage
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    case "$codename" in
        bookworm) debver=12; standards=4.6.2 ;;
        trixie) debver=13; standards=4.7.2 ;;
        *) say "Debian 12 (bookworm) or 13 (trixie) needed, this is '$codename'"; exit 1 ;;
    esac
    # php-dev: the distribution's PHP (8.2 on Debian 12, 8.4 on Debian 13)
    apt_need build-essential debhelper dh-php php-dev libclang-dev pkg-config lintian
    command -v cargo >/dev/null || { say "cargo not found: install Rust (https://rustup.rs) and run again"; exit 1; }
    php="$(php-config --version | cut -d. -f1,2)"
    phpmajor="php$php"
    stage="$ROOT/target/deb/php-push-$VERSION"
    say "packaging push $VERSION for PHP $php (Debian $debver, $codename) in $stage"
    rm -rf "$ROOT/target/deb"
    mkdir -p "$stage"
    tar -C "$ROOT" --exclude=./target --exclude=./dist --exclude=./.git --exclude=node_modules -cf - . \
        | tar -C "$stage" -xf -
    sed -e "s/@PHP@/$php/g" -e "s/@STANDARDS@/$standards/g" "$ROOT/debian/control.in" > "$stage/debian/control"
    local date
    # the changelog's date (and so the files' dates, dh's SOURCE_DATE_EPOCH):
    # the last commit's, so that two builds of one commit match
    [ -n "${SOURCE_DATE_EPOCH:-}" ] || SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)"
    date="$(date -R -d "@$SOURCE_DATE_EPOCH")"
    cat > "$stage/debian/changelog" <<EOF
php-push ($VERSION-1~deb$debver) $codename; urgency=medium

  * push $VERSION for PHP $php (the changes: changelog.gz, from CHANGELOG.md).

 -- $(sed -n 's/^Maintainer: //p' "$ROOT/debian/control.in")  $date
EOF
    (cd "$stage" && CARGO_TARGET_DIR="$ROOT/target" dpkg-buildpackage -b -us -uc)
    local deb="$ROOT/target/deb/${phpmajor}-push_${VERSION}-1~deb${debver}_$(dpkg --print-architecture).deb"
    [ -f "$deb" ] || { say "no $deb"; exit 1; }
    say "contents of $(basename "$deb")"
    dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
    dpkg-deb --contents "$deb"
    say "lintian $(basename "$deb")"
    local lint rc=0
    lint="$(lintian --fail-on error --display-info "$deb" 2>&1)" || rc=$?
    [ -n "$lint" ] && printf '%s\n' "$lint"
    say "lintian: $(printf '%s\n' "$lint" | grep -c '^E: ') errors, $(printf '%s\n' "$lint" | grep -c '^W: ') warnings, $(printf '%s\n' "$lint" | grep -c '^I: ') info (exit $rc)"
    [ "$rc" -eq 0 ] || exit "$rc"
    cp "$deb" "$DIST/"
    say "built dist/$(basename "$deb")"
}

check_versions
check_ini
if [ -n "${FRESH:-}" ]; then
    fresh_build
else
    native_build
fi
