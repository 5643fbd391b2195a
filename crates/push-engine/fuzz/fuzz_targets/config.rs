//! Setting values (`config/parse.rs`, as PHP writes INI values): a value
//! that is accepted reads back as text that is accepted again, to the same
//! setting; a refused value changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use push_engine::config::{parse_bool, parse_quantity, SETTINGS};
use push_engine::Config;

fuzz_target!(|data: &[u8]| {
    let Some((&which, value)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    let _ = parse_bool(value);
    if let Ok(n) = parse_quantity(value) {
        assert_eq!(parse_quantity(&n.to_string()), Ok(n), "{value:?}");
    }
    let setting = &SETTINGS[which as usize % SETTINGS.len()];
    let mut config = Config::default();
    match config.set(setting.name, value) {
        Ok(()) => {
            let shown = config.get(setting.name).unwrap();
            let mut again = Config::default();
            again
                .set(setting.name, &shown)
                .unwrap_or_else(|e| panic!("{}: {value:?} shows as {shown:?}: {e}", setting.name));
            assert_eq!(
                again.get(setting.name).unwrap(),
                shown,
                "{}: {value:?}",
                setting.name
            );
            assert_eq!(again, config, "{}: {value:?} -> {shown:?}", setting.name);
        }
        Err(_) => assert_eq!(config, Config::default(), "{}: {value:?}", setting.name),
    }
});
