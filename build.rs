//! Build metadata for the extension: `phpXY` cfg flags for the PHP version
//! being built against (ext-php-rs's macros test `php82`), and the link
//! flags a PHP extension needs on macOS.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PHP_CONFIG");
    let php_config = std::env::var("PHP_CONFIG").unwrap_or_else(|_| "php-config".into());
    let vernum = Command::new(&php_config)
        .arg("--vernum")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(80200);
    let minor = (vernum / 100) % 100;
    let major = vernum / 10000;
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
