//! Build metadata for the extension: refuses a PHP push does not support
//! (with a message that says why), sets the `phpXY` cfg flags for the PHP
//! version being built against (ext-php-rs's macros test `php82`), and the
//! link flags a PHP extension needs on macOS.
//!
//! Supported: PHP 8.2 to 8.4, non-thread-safe (NTS). 8.2 (Debian 12) and
//! 8.4 (Debian 13) are verified by the test command on those systems; 8.3
//! builds with a warning (ext-php-rs supports its API, no test here runs
//! it). Newer or older versions are refused unless
//! `PUSH_ALLOW_UNTESTED_PHP=1`. Thread-safe (ZTS) builds are refused: a
//! worker's connection to the engine and its cursors are per process, not
//! per thread.

use std::process::Command;

/// The PHP versions (`PHP_VERSION_ID / 100`) push is built and tested for.
const VERIFIED: &[u32] = &[802, 804];
const SUPPORTED: std::ops::RangeInclusive<u32> = 802..=804;

fn main() {
    println!("cargo:rerun-if-env-changed=PHP_CONFIG");
    println!("cargo:rerun-if-env-changed=PUSH_ALLOW_UNTESTED_PHP");
    let php_config = std::env::var("PHP_CONFIG").unwrap_or_else(|_| "php-config".into());
    let query = |arg: &str| {
        Command::new(&php_config)
            .arg(arg)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
    };
    let Some(vernum) = query("--vernum").and_then(|s| s.parse::<u32>().ok()) else {
        refuse(&format!(
            "`{php_config} --vernum` gave no PHP version: install PHP's development files \
             (Debian: apt-get install php-dev) or set PHP_CONFIG to the php-config of the PHP to build for"
        ));
    };
    let version = query("--version").unwrap_or_else(|| vernum.to_string());
    let (major, minor) = (vernum / 10000, (vernum / 100) % 100);
    let allow_untested = std::env::var("PUSH_ALLOW_UNTESTED_PHP").as_deref() == Ok("1");
    if !SUPPORTED.contains(&(vernum / 100)) {
        if allow_untested {
            println!(
                "cargo:warning=building push for PHP {version}, which it is not tested on \
                 (PUSH_ALLOW_UNTESTED_PHP=1); supported: PHP 8.2 to 8.4"
            );
        } else {
            refuse(&format!(
                "PHP {version} (from {php_config}) is not supported: push builds for PHP 8.2 to 8.4 \
                 (NTS). Set PHP_CONFIG to another PHP's php-config, or PUSH_ALLOW_UNTESTED_PHP=1 to \
                 try this one anyway"
            ));
        }
    } else if !VERIFIED.contains(&(vernum / 100)) {
        println!(
            "cargo:warning=PHP {version}: supported, but the test suite has been run only on \
             PHP 8.2 (Debian 12) and 8.4 (Debian 13)"
        );
    }
    if let Some(include) = query("--include-dir") {
        let header = std::path::Path::new(&include).join("main/php_config.h");
        println!("cargo:rerun-if-changed={}", header.display());
        let zts = std::fs::read_to_string(&header)
            .map(|h| h.lines().any(|l| l.trim() == "#define ZTS 1"))
            .unwrap_or(false);
        if zts {
            refuse(&format!(
                "PHP {version} (from {php_config}) is thread-safe (ZTS): push supports only \
                 non-thread-safe PHP (php-fpm, the CLI, Apache prefork). Its connection to the \
                 engine and its cursors are kept per process, and threads would share them"
            ));
        }
    }
    for m in 0..=9 {
        println!("cargo::rustc-check-cfg=cfg(php8{m})");
    }
    if major == 8 {
        for m in 0..=minor {
            println!("cargo:rustc-cfg=php8{m}");
        }
    }
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-undefined");
        println!("cargo:rustc-cdylib-link-arg=dynamic_lookup");
    }
}

/// Stops the build with `message` (cargo shows a build script's stderr
/// when it fails).
fn refuse(message: &str) -> ! {
    eprintln!("error: push: {message}");
    std::process::exit(1);
}
