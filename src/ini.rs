//! `push.*` INI entries: one per engine setting, registered at module
//! start-up (PHP_INI_SYSTEM: fixed for the process), read into a
//! `push_engine::Config` when the engine starts.

use std::ffi::CString;

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::{ExecutorGlobals, IniEntryDef};
use push_engine::config::SETTINGS;
use push_engine::{Config, Error};

/// INI name of a setting.
pub fn ini_name(setting: &str) -> String {
    format!("push.{setting}")
}

/// Registers every `push.*` entry. The table lives for the whole process, as
/// PHP requires, so it is leaked once here.
pub fn register(module_number: i32) {
    let mut defs = Vec::with_capacity(SETTINGS.len() + 1);
    for s in SETTINGS {
        let (Ok(name), Ok(default)) = (CString::new(ini_name(s.name)), CString::new(s.default))
        else {
            continue;
        };
        defs.push(IniEntryDef::new(
            Box::leak(name.into_boxed_c_str()),
            Box::leak(default.into_boxed_c_str()),
            IniEntryPermission::System,
        ));
    }
    defs.push(IniEntryDef::end());
    IniEntryDef::register(Box::leak(defs.into_boxed_slice()), module_number);
}

/// The configuration from the current INI values.
pub fn config() -> Result<Config, Error> {
    let values = ExecutorGlobals::get().ini_values();
    let mut config = Config::default();
    for s in SETTINGS {
        if let Some(Some(v)) = values.get(&ini_name(s.name)) {
            config.set(s.name, v)?;
        }
    }
    Ok(config)
}

/// A default configuration with only `names` read from the current INI
/// values (for a function that needs a setting or two, whatever the others
/// hold).
pub fn config_of(names: &[&str]) -> Result<Config, Error> {
    let values = ExecutorGlobals::get().ini_values();
    let mut config = Config::default();
    for name in names {
        if let Some(Some(v)) = values.get(&ini_name(name)) {
            config.set(name, v)?;
        }
    }
    Ok(config)
}
