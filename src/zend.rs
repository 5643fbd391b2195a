//! PHP engine symbols that ext-php-rs does not bind, resolved with `dlsym`
//! when first used (declaring them as `extern` would break loading the
//! module outside PHP, for example in `cargo php stubs`), and small helpers
//! over the executor globals.

use std::ffi::{c_char, c_int, c_void, CStr};

use ext_php_rs::ffi::{
    zend_class_entry, zend_compiler_globals, zend_execute_data, zend_function, zend_module_entry,
    MAY_BE_ANY,
};
use ext_php_rs::zend::ExecutorGlobals;
use once_cell::sync::Lazy;

/// `zend_parse_parameters(uint32_t num_args, const char *spec, ...)`.
pub type ParseParameters = unsafe extern "C" fn(u32, *const c_char, ...) -> c_int;
type DisplayIniEntries = unsafe extern "C" fn(*mut zend_module_entry);

fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT only looks a name up.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

static ZPP: Lazy<Option<ParseParameters>> = Lazy::new(|| {
    // SAFETY: the symbol is PHP's zend_parse_parameters, of this signature.
    symbol(c"zend_parse_parameters")
        .map(|p| unsafe { std::mem::transmute::<*mut c_void, ParseParameters>(p) })
});

static DISPLAY_INI: Lazy<Option<DisplayIniEntries>> = Lazy::new(|| {
    // SAFETY: the symbol is PHP's display_ini_entries, of this signature.
    symbol(c"display_ini_entries")
        .map(|p| unsafe { std::mem::transmute::<*mut c_void, DisplayIniEntries>(p) })
});

/// PHP's own argument parser, so arguments coerce exactly as for built-in
/// functions (weak and strict mode, Stringable, deprecations, messages).
pub fn parse_parameters() -> Option<ParseParameters> {
    *ZPP
}

/// The class entry of `RuntimeException` (SPL is always compiled in).
pub fn runtime_exception() -> Option<&'static zend_class_entry> {
    let p = symbol(c"spl_ce_RuntimeException")? as *const *mut zend_class_entry;
    // SAFETY: the symbol is a `zend_class_entry *` variable that SPL sets at
    // its start-up, which runs before any dynamically loaded extension's.
    unsafe { (*p).as_ref() }
}

/// Prints the module's INI table in phpinfo(), as DISPLAY_INI_ENTRIES() does.
pub fn display_ini_entries(module: *mut zend_module_entry) {
    if let Some(f) = *DISPLAY_INI {
        // SAFETY: `module` is the entry PHP passed to our info function.
        unsafe { f(module) }
    }
}

/// Number of arguments of the current call (ZEND_NUM_ARGS()).
pub fn num_args(ex: &zend_execute_data) -> u32 {
    // SAFETY: for an internal function call, `This.u2` holds num_args.
    unsafe { ex.This.u2.num_args }
}

/// What pending VM interrupt was found.
pub enum Interrupt {
    None,
    /// PHP ran its interrupt handler (pcntl signal handlers); an exception
    /// may now be pending.
    Handled,
    /// max_execution_time ran out: leave it to the VM once the call returns.
    TimedOut,
}

/// Runs PHP's pending interrupt handler (the pcntl_async_signals handlers)
/// from inside a long internal call, as the VM does between opcodes.
///
/// # Safety
/// Must be called on the PHP thread during a function call, and inside a
/// `zend_try` (a handler may bail out).
pub unsafe fn handle_interrupt() -> Interrupt {
    let (pending, timed_out, ex) = {
        let eg = ExecutorGlobals::get();
        let pending = eg.vm_interrupt.value;
        let timed_out = eg.timed_out.value;
        (pending, timed_out, eg.current_execute_data)
    };
    if !pending {
        return Interrupt::None;
    }
    if timed_out {
        return Interrupt::TimedOut;
    }
    ExecutorGlobals::get_mut().cancel_interrupt();
    if let Some(f) = ext_php_rs::ffi::zend_interrupt_function {
        f(ex);
    }
    Interrupt::Handled
}

/// `zend_declare_typed_property(ce, name, default, flags, doc, type)`.
pub type DeclareTypedProperty = unsafe extern "C" fn(
    *mut zend_class_entry,
    *mut ext_php_rs::ffi::zend_string,
    *mut ext_php_rs::ffi::zval,
    c_int,
    *mut ext_php_rs::ffi::zend_string,
    ext_php_rs::ffi::zend_type,
) -> *mut c_void;

/// `zend_update_property_ex(scope, object, name, value)`.
pub type UpdateProperty = unsafe extern "C" fn(
    *mut zend_class_entry,
    *mut ext_php_rs::ffi::zend_object,
    *mut ext_php_rs::ffi::zend_string,
    *mut ext_php_rs::ffi::zval,
);

static DECLARE_TYPED: Lazy<Option<DeclareTypedProperty>> = Lazy::new(|| {
    // SAFETY: PHP's zend_declare_typed_property, of this signature.
    symbol(c"zend_declare_typed_property")
        .map(|p| unsafe { std::mem::transmute::<*mut c_void, DeclareTypedProperty>(p) })
});

static UPDATE_PROPERTY: Lazy<Option<UpdateProperty>> = Lazy::new(|| {
    // SAFETY: PHP's zend_update_property_ex, of this signature.
    symbol(c"zend_update_property_ex")
        .map(|p| unsafe { std::mem::transmute::<*mut c_void, UpdateProperty>(p) })
});

pub fn declare_typed_property() -> Option<DeclareTypedProperty> {
    *DECLARE_TYPED
}

pub fn update_property() -> Option<UpdateProperty> {
    *UPDATE_PROPERTY
}

/// Whether PHP already has a function of this (lower-case) name: one a
/// SAPI brings, such as FrankenPHP's `mercure_publish()`. Read from the
/// compiler globals' function table, which PHP fills from its start-up on,
/// before it loads `extension=` modules; `false` outside PHP.
pub fn function_exists(name: &str) -> bool {
    function(name).is_some()
}

/// A function of PHP's function table, by its lower-case name.
fn function(name: &str) -> Option<*mut zend_function> {
    let p = symbol(c"compiler_globals")?;
    let globals = p as *const zend_compiler_globals;
    // SAFETY: the symbol is NTS PHP's `compiler_globals` variable (build.rs
    // refuses ZTS); it is only read, from the thread starting PHP.
    let table = unsafe { (*globals).function_table.as_ref() }?;
    let entry = table.get(name)?;
    // SAFETY: the function table's values are IS_PTR zvals to zend_function.
    let f = unsafe { entry.value.ptr } as *mut zend_function;
    (!f.is_null()).then_some(f)
}

/// Gives the first parameter of one of this module's functions the type
/// `string|array` (ext-php-rs's builder declares no union types): what
/// Reflection, and so the stub, show. Called at module start-up.
pub fn declare_string_or_array(name: &str) {
    const MAY_BE_STRING: u32 = 1 << 6;
    const MAY_BE_ARRAY: u32 = 1 << 7;
    let Some(f) = function(name) else {
        return;
    };
    // SAFETY: an internal function this module registered, whose arg_info
    // (ext-php-rs's leaked, writable table) has `num_args` entries; PHP
    // reads it only later, on this same thread.
    unsafe {
        let common = &(*f).common;
        if common.num_args == 0 || common.arg_info.is_null() {
            return;
        }
        let ty = &mut (*common.arg_info).type_;
        ty.type_mask = (ty.type_mask & !MAY_BE_ANY) | MAY_BE_STRING | MAY_BE_ARRAY;
    }
}
