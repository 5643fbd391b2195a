//! The settings: defaults, bounds, parsing like PHP, read-back.
use super::parse::*;
use super::*;

#[test]
fn every_default_parses() {
    let mut c = Config::default();
    for s in SETTINGS {
        c.set(s.name, s.default).unwrap();
    }
    assert_eq!(c.max_message_size, 65536);
    assert_eq!(c.history, 100);
    assert_eq!(c.listen, "127.0.0.1:8080");
    assert_eq!(c.max_connections, 10_000);
    assert_eq!(c.max_connections_per_ip, 256);
    assert_eq!(c.max_header_size, 16 << 10);
    assert_eq!(c.request_timeout, Duration::from_secs(10));
    assert_eq!(c.client_publish_rate, 20);
    assert_eq!(c.max_poll_waiters_per_ip, 64);
    assert!(!c.mercure && !c.mercure_anonymous, "the Mercure hub is off");
    assert_eq!(c.mercure_heartbeat, Duration::from_secs(40));
    assert_eq!(c.mercure_history, 1000);
    assert_eq!(c.mercure_history_ttl, Duration::from_secs(3600));
}

#[test]
fn mercure_keys_default_to_the_secret() {
    let mut c = Config::default();
    c.set("mercure", "On").unwrap();
    assert_eq!(c.get("mercure").unwrap(), "On");
    assert!(c.validate().is_err(), "a hub without a publisher key");
    c.set("secret", &"s".repeat(32)).unwrap();
    c.validate().unwrap();
    assert_eq!(
        c.mercure_publisher_key().expose(),
        "s".repeat(32).as_bytes()
    );
    assert_eq!(
        c.mercure_subscriber_key().expose(),
        "s".repeat(32).as_bytes()
    );
    c.set("mercure_subscriber_key", &"k".repeat(32)).unwrap();
    assert_eq!(
        c.mercure_subscriber_key().expose(),
        "k".repeat(32).as_bytes()
    );
    assert!(c.set("mercure_publisher_key", "short").is_err());
    let e = c
        .set("mercure_publisher_key", "short")
        .unwrap_err()
        .to_string();
    assert!(e.contains("(hidden)"), "{e}");
    c.set("mercure", "0").unwrap();
    assert_eq!(c.get("mercure").unwrap(), "Off");
}

#[test]
fn mercure_issuer_audience_and_cors_origins() {
    let mut c = Config::default();
    assert!(c.mercure_issuer.is_empty() && c.mercure_audience.is_empty());
    assert_eq!(c.mercure_cors_origins, Patterns::None);
    c.set("mercure_issuer", " https://auth.example.com ")
        .unwrap();
    assert_eq!(c.get("mercure_issuer").unwrap(), "https://auth.example.com");
    c.set(
        "mercure_audience",
        "https://push.example.com/.well-known/mercure",
    )
    .unwrap();
    for bad in ["a b", "tab\there", "é", &"x".repeat(2049)] {
        assert!(c.set("mercure_issuer", bad).is_err(), "{bad}");
        assert!(c.set("mercure_audience", bad).is_err(), "{bad}");
    }
    assert!(c.set("mercure_audience", &"x".repeat(2048)).is_ok());
    c.set(
        "mercure_cors_origins",
        "https://app.example.com, https://admin.example.com",
    )
    .unwrap();
    assert!(c.mercure_cors_origins.allows("https://app.example.com"));
    assert!(!c.mercure_cors_origins.allows("https://evil.example"));
    assert!(c
        .set("mercure_cors_origins", "https://a.example\u{7}")
        .is_err());
}

#[test]
fn limits_are_bounded() {
    let mut c = Config::default();
    for (name, bad) in [
        ("max_connections", "0"),
        ("max_connections_per_ip", "0"),
        ("max_header_size", "512"),
        ("max_header_size", "1M"),
        ("request_timeout", "0"),
        ("client_publish_rate", "0"),
        ("max_poll_waiters_per_ip", "0"),
        ("coalesce", "1.5"),
        ("coalesce", "-0.01"),
    ] {
        let e = c.set(name, bad).unwrap_err().to_string();
        assert!(e.contains(&format!("push.{name}")), "{e}");
    }
    c.set("max_header_size", "1K").unwrap();
    c.set("max_header_size", "256K").unwrap();
    assert_eq!(c.get("max_header_size").unwrap(), "262144");
}

#[test]
fn quantities_parse_like_php() {
    assert_eq!(parse_quantity("64K").unwrap(), 65536);
    assert_eq!(parse_quantity(" 8m ").unwrap(), 8 << 20);
    assert_eq!(parse_quantity("1G").unwrap(), 1 << 30);
    assert_eq!(parse_quantity("0x10").unwrap(), 16);
    assert_eq!(parse_quantity("0b101").unwrap(), 5);
    assert!(parse_quantity("abc").is_err());
    assert!(parse_quantity("-1").is_err());
    assert!(parse_quantity("99999999999999999999G").is_err());
}

#[test]
fn booleans_parse_like_php() {
    for t in ["On", "yes", "TRUE", "1", "2", "10abc"] {
        assert!(parse_bool(t), "{t}");
    }
    for f in ["Off", "no", "false", "0", "", "abc", "00"] {
        assert!(!parse_bool(f), "{f}");
    }
}

#[test]
fn bad_values_are_refused_with_the_name() {
    let mut c = Config::default();
    let e = c.set("history", "lots").unwrap_err().to_string();
    assert!(e.contains("push.history") && e.contains("lots"), "{e}");
    assert!(c.set("listen", "nohost").is_err());
    assert!(c.set("threads", "0").is_err());
    assert!(c.set("history_ttl", "-3").is_err());
    assert!(matches!(c.set("nope", "1"), Err(Error::UnknownSetting(_))));
    assert_eq!(c, Config::default(), "a refused value changes nothing");
}

#[test]
fn patterns() {
    let p = Patterns::parse("news, user:*").unwrap();
    assert!(p.allows("news") && p.allows("user:42") && !p.allows("newsx") && !p.allows("use"));
    assert!(Patterns::parse("On").unwrap().allows("x"));
    assert!(!Patterns::parse("Off").unwrap().allows("x"));
    assert_eq!(Patterns::parse("").unwrap(), Patterns::None);
    assert_eq!(Patterns::parse("*").unwrap(), Patterns::All);
    assert!(Patterns::parse("a b").is_err());
    assert_eq!(Patterns::parse(" , ,").unwrap(), Patterns::None);
    // A list of one name that reads as a keyword shows as a list.
    for keyword in ["on", "Off", "*", "1"] {
        let list = Patterns::parse(&format!("{keyword},")).unwrap();
        assert_eq!(list, Patterns::List(vec![keyword.into()]));
        assert_eq!(Patterns::parse(&list.show()).unwrap(), list);
    }
}

#[test]
fn coalescing_is_shorter_than_a_keepalive() {
    let mut c = Config::default();
    assert_eq!(c.coalesce, Duration::from_millis(10));
    c.set("coalesce", "0").unwrap();
    c.validate().unwrap();
    c.set("keepalive", "0.5").unwrap();
    c.set("coalesce", "0.5").unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("push.coalesce") && e.contains("push.keepalive"),
        "{e}"
    );
    c.set("coalesce", "0.25").unwrap();
    c.validate().unwrap();
}

#[test]
fn queue_must_hold_a_message() {
    let mut c = Config::default();
    c.validate().unwrap();
    c.set("max_queue_bytes", "64K").unwrap();
    assert!(c.validate().is_err());
}

#[test]
fn values_read_back() {
    let mut c = Config::default();
    c.set("history_ttl", "1.5").unwrap();
    assert_eq!(c.get("history_ttl").unwrap(), "1.5");
    assert_eq!(c.get("max_message_size").unwrap(), "65536");
    assert_eq!(c.get("nope"), None);
}

/// Every setting, given 0, -1, PHP_INT_MAX and (for a number) one past its
/// maximum, either takes the value or refuses it with an error that names
/// it; no number is unbounded.
#[test]
fn every_setting_is_bounded() {
    let huge = i64::MAX.to_string();
    for s in SETTINGS {
        let name = format!("push.{}", s.name);
        let mut c = Config::default();
        for v in ["0", "-1", huge.as_str()] {
            if let Err(e) = c.set(s.name, v) {
                assert!(e.to_string().contains(&name), "{e}");
            }
        }
        let Some((min, max)) = s.range else {
            // Not a number: socket_mode (octal, at most 0777) is the one
            // whose default reads as one.
            let numeric = parse_quantity(s.default).is_ok() || s.default.parse::<f64>().is_ok();
            assert!(!numeric || s.name == "socket_mode", "{name} has no range");
            continue;
        };
        let range = format!("from {min} to {max}");
        for v in ["-1".to_owned(), huge.clone(), format!("{}", max + 1.0)] {
            let e = c.set(s.name, &v).expect_err(&v).to_string();
            assert!(e.contains(&name) && e.contains(&range), "{e}");
        }
        c.set(s.name, &format!("{max}")).unwrap();
        assert_eq!(c.get(s.name).unwrap().parse::<f64>().unwrap(), max);
        c.set(s.name, &format!("{min}")).unwrap();
        if min > 0.0 {
            assert!(c.set(s.name, "0").is_err(), "{name}");
        }
    }
}

#[test]
fn pusher_needs_all_three_or_none() {
    let mut c = Config::default();
    c.validate().unwrap();
    assert!(!c.pusher(), "off by default");
    c.set("pusher_app_id", "1234").unwrap();
    c.set("pusher_key", "app-key").unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("push.pusher_secret"), "{e}");
    c.set("pusher_secret", "0123456789abcdef0123").unwrap();
    c.validate().unwrap();
    assert!(c.pusher());
    assert!(c.set("pusher_key", "a key").is_err());
    assert!(c.set("pusher_app_id", &"1".repeat(65)).is_err());
    let e = c.set("pusher_secret", "a b").unwrap_err().to_string();
    assert!(!e.contains("a b"), "a secret is never echoed: {e}");
}

#[test]
fn mercure_public_url_is_an_http_url() {
    let mut c = Config::default();
    assert_eq!(c.get("mercure_public_url").unwrap(), "");
    for ok in [
        "https://push.example.com/.well-known/mercure",
        "http://127.0.0.1:8080/.well-known/mercure",
        "  HTTPS://Example.com  ",
    ] {
        c.set("mercure_public_url", ok).unwrap();
        assert_eq!(c.mercure_public_url, ok.trim());
    }
    c.set("mercure_public_url", "").unwrap();
    assert_eq!(c.mercure_public_url, "");
    let long = format!("https://example.com/{}", "a".repeat(2048));
    for bad in [
        "/.well-known/mercure",
        "ftp://example.com/",
        "https://",
        "https:///path",
        "https://example.com/a b",
        "https://example.com/<x>",
        "https://example.com/\"",
        long.as_str(),
    ] {
        let e = c.set("mercure_public_url", bad).expect_err(bad).to_string();
        assert!(e.contains("push.mercure_public_url"), "{e}");
    }
}

#[test]
fn pusher_encryption_master_key_is_the_base64_of_32_bytes() {
    let mut c = Config::default();
    assert_eq!(c.pusher_master_key(), None, "none by default");
    // 32 bytes 0..31, as `openssl rand -base64 32` writes them.
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    c.set("pusher_encryption_master_key", key).unwrap();
    let expected: Vec<u8> = (0u8..32).collect();
    assert_eq!(c.pusher_master_key().map(|k| k.to_vec()), Some(expected));
    for bad in [
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", // 30 bytes
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==", // 34 bytes
        "not base64 at all!",
        "0123456789abcdef0123456789abcdef", // 32 characters, not base64 of 32 bytes
    ] {
        let e = c
            .set("pusher_encryption_master_key", bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("base64 of 32 bytes"), "{e}");
        assert!(!e.contains(bad), "a key is never echoed: {e}");
    }
    c.set("pusher_encryption_master_key", "").unwrap();
    assert_eq!(c.pusher_master_key(), None);
}

#[test]
fn webhook_urls_are_plain_http_or_empty() {
    let mut c = Config::default();
    assert_eq!(c.pusher_webhook_url, "");
    assert_eq!(c.presence_ttl, Duration::from_secs(30));
    c.set("pusher_webhook_url", "http://127.0.0.1:9000/hooks?x=1")
        .unwrap();
    assert_eq!(c.pusher_webhook_url, "http://127.0.0.1:9000/hooks?x=1");
    c.set("pusher_webhook_url", "").unwrap();
    assert_eq!(c.pusher_webhook_url, "");
    for bad in [
        "https://example.com/",
        "ftp://x/",
        "http://",
        "http:///path",
        "http://user:pw@host/",
        "http://a b/",
        "example.com",
    ] {
        let e = c.set("pusher_webhook_url", bad).unwrap_err().to_string();
        assert!(e.contains("http://host"), "{bad}: {e}");
    }
    assert!(c.set("presence_ttl", "0.1").is_err());
    assert!(c.set("pusher_webhook_retries", "101").is_err());
}
