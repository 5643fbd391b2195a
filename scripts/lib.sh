# Shared by the scripts: one PATH for every build and test step (ext-php-rs's
# build script reruns bindgen whenever PATH changes), and the installs.
set -euo pipefail
export PATH="$HOME/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SO="$ROOT/target/release/libpush.so"

say() { printf '==> %s\n' "$*" >&2; }

# apt_need PKG...: installs the Debian packages that are missing.
apt_need() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null
}

# need_php: the PHP to build and test against. A `php` already on PATH is
# used as it is; on a machine without one, the distribution's own (Debian's
# php-cli: 8.2 on Debian 12, 8.4 on Debian 13). Sets PHP_VER (8.4) and
# PHP_PKG (php8.4), the prefix of that PHP's versioned packages, so the
# packages installed next are the ones of the PHP that runs.
need_php() {
    command -v php >/dev/null || apt_need php-cli
    PHP_VER="$(php -n -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')"
    PHP_PKG="php$PHP_VER"
}

# php_need EXT...: the packages of this PHP (php8.4-fpm, php8.4-xml, ...).
php_need() {
    need_php
    local pkgs=()
    for p in "$@"; do pkgs+=("$PHP_PKG-$p"); done
    apt_need "${pkgs[@]}"
}

need_build_deps() {
    apt_need ca-certificates gcc libc6-dev pkg-config libclang-dev
    php_need cli dev
    if ! command -v cargo >/dev/null; then
        say "cargo not found: install Rust (https://rustup.rs) and run again"
        exit 1
    fi
}

build_release() {
    need_build_deps
    say "building push (release) for PHP $PHP_VER ($(php-config --extension-dir))"
    (cd "$ROOT" && cargo build --release --workspace)
}
