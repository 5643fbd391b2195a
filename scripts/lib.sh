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

need_build_deps() {
    apt_need php8.2-cli php8.2-dev libclang-dev gcc pkg-config
    if ! command -v cargo >/dev/null; then
        say "cargo not found: install Rust (https://rustup.rs) and run again"
        exit 1
    fi
}

build_release() {
    need_build_deps
    say "building push (release)"
    (cd "$ROOT" && cargo build --release --workspace)
}
