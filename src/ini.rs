//! `push.*` INI entries: one per engine setting, registered at module
//! start-up (PHP_INI_SYSTEM: fixed for the process), read into a
//! `push_engine::Config` when the engine starts.

use std::ffi::{c_int, CString};

use ext_php_rs::ffi::{php_printf, zend_ini_entry};
use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::{ExecutorGlobals, IniEntryDef, SapiModule};
use push_engine::config::{SECRET_SETTINGS, SETTINGS};
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
        let mut def = IniEntryDef::new(
            Box::leak(name.into_boxed_c_str()),
            Box::leak(default.into_boxed_c_str()),
            IniEntryPermission::System,
        );
        if SECRET_SETTINGS.contains(&s.name) {
            def.displayer = Some(masked);
        }
        defs.push(def);
    }
    defs.push(IniEntryDef::end());
    IniEntryDef::register(Box::leak(defs.into_boxed_slice()), module_number);
}

/// ZEND_INI_DISPLAY_ORIG: phpinfo()'s master value column.
const DISPLAY_ORIG: c_int = 1;

/// How phpinfo() shows a credential: `********`, or `no value` as PHP
/// shows empty values.
unsafe extern "C" fn masked(entry: *mut zend_ini_entry, ty: c_int) {
    // SAFETY: PHP passes the entry it is displaying.
    let Some(entry) = (unsafe { entry.as_ref() }) else {
        return;
    };
    let value = if ty == DISPLAY_ORIG && entry.modified != 0 {
        entry.orig_value
    } else {
        entry.value
    };
    // SAFETY: the entry's values are PHP strings or null.
    let empty = unsafe { value.as_ref() }.is_none_or(|v| v.len == 0);
    let text = match (empty, SapiModule::get().phpinfo_as_text != 0) {
        (false, _) => c"********",
        (true, true) => c"no value",
        (true, false) => c"<i>no value</i>",
    };
    // SAFETY: a constant format and a NUL-terminated argument.
    unsafe { php_printf(c"%s".as_ptr(), text.as_ptr()) };
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
