//! `Push\Message`: what push_get_message() returns.
//!
//! An ordinary final PHP class with typed readonly properties (declared
//! with `zend_declare_typed_property`), so var_dump, Reflection, clone,
//! serialize and readonly errors behave exactly as for a class written in
//! PHP. Its string form is the data, so tutorial code such as
//! `echo "data: $message\n\n"` works unchanged.

use std::ffi::{c_char, CStr};
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use ext_php_rs::args::Arg;
use ext_php_rs::builders::{ClassBuilder, FunctionBuilder};
use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::{zend_read_property, zend_string, zend_type, zval};
use ext_php_rs::flags::{ClassFlags, DataType, MethodFlags};
use ext_php_rs::types::{ZendObject, ZendStr, Zval};
use ext_php_rs::zend::{run_handler, ClassEntry, ExecuteData};
use push_engine::Publication;

use crate::zend;

static MESSAGE: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());

// zend_type masks (Zend/zend_type_info.h).
const MAY_BE_NULL: u32 = 1 << 1;
const MAY_BE_BOOL: u32 = (1 << 2) | (1 << 3);
const MAY_BE_STRING: u32 = 1 << 6;
const ACC_PUBLIC: i32 = 1 << 0;
const ACC_READONLY: i32 = 1 << 7;

const PROPS: [(&str, u32); 5] = [
    ("id", MAY_BE_STRING),
    ("channel", MAY_BE_STRING),
    ("event", MAY_BE_STRING | MAY_BE_NULL),
    ("data", MAY_BE_STRING),
    ("lost", MAY_BE_BOOL),
];

/// Registers the class. Called once, at module start-up.
pub fn register() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new("Push\\Message")
        .flags(ClassFlags::Final)
        .method(
            FunctionBuilder::new("__construct", construct)
                .arg(Arg::new("id", DataType::String))
                .arg(Arg::new("channel", DataType::String))
                .arg(Arg::new("event", DataType::String).allow_null())
                .arg(Arg::new("data", DataType::String))
                .not_required()
                .arg(Arg::new("lost", DataType::Bool).default("false")),
            MethodFlags::Public,
        )
        .method(
            FunctionBuilder::new("__toString", to_string).returns(DataType::String, false, false),
            MethodFlags::Public,
        )
        .registration(|ce, _| {
            if let Some(declare) = zend::declare_typed_property() {
                for (name, mask) in PROPS {
                    // Typed properties start uninitialised (IS_UNDEF).
                    let mut undef = Zval::new();
                    undef.u1.type_info = 0;
                    let name = ZendStr::new_interned(name, true).into_raw();
                    let ty = zend_type {
                        ptr: ptr::null_mut(),
                        type_mask: mask,
                    };
                    // SAFETY: declares a property on the class being
                    // registered, at module start-up, with an interned name.
                    unsafe {
                        declare(
                            ce,
                            name,
                            &mut undef as *mut Zval as *mut zval,
                            ACC_PUBLIC | ACC_READONLY,
                            ptr::null_mut(),
                            ty,
                        )
                    };
                }
            }
            MESSAGE.store(ce, Ordering::Release);
        })
        .register()
}

fn class() -> Option<&'static ClassEntry> {
    // SAFETY: set once at start-up to a class entry PHP keeps until shutdown.
    unsafe { MESSAGE.load(Ordering::Acquire).as_ref() }
}

/// Initialises the readonly properties of a fresh object (in the class's
/// scope, as its constructor would).
fn init(
    obj: &mut ZendObject,
    id: &[u8],
    channel: &[u8],
    event: Option<&[u8]>,
    data: &[u8],
    lost: bool,
) -> Result<(), PhpException> {
    let (Some(ce), Some(update)) = (class(), zend::update_property()) else {
        return Err(PhpException::from_message(
            "Push\\Message is not available".into(),
        ));
    };
    let mut set = |name: &str, mut value: Zval| {
        let name = ZendStr::new(name, false);
        // SAFETY: `obj` is a live Push\Message; the scope is its class, so
        // readonly properties may be initialised.
        unsafe {
            update(
                ptr::from_ref(ce).cast_mut(),
                obj,
                ptr::from_ref(&*name).cast_mut(),
                &mut value as *mut Zval as *mut zval,
            )
        };
    };
    let string = |bytes: &[u8]| {
        let mut z = Zval::new();
        z.set_zend_string(ZendStr::new(bytes, false));
        z
    };
    set("id", string(id));
    set("channel", string(channel));
    set(
        "event",
        match event {
            Some(e) => string(e),
            None => {
                let mut z = Zval::new();
                z.set_null();
                z
            }
        },
    );
    set("data", string(data));
    let mut z = Zval::new();
    z.set_bool(lost);
    set("lost", z);
    Ok(())
}

/// A new `Push\Message` for a publication, as a zval.
pub fn new_message(p: &Publication, lost: bool) -> Result<Zval, PhpException> {
    let ce = class()
        .ok_or_else(|| PhpException::from_message("Push\\Message is not available".into()))?;
    let mut obj = ZendObject::new(ce);
    let id = p.id.to_string();
    init(
        &mut obj,
        id.as_bytes(),
        p.channel.as_bytes(),
        p.event.as_deref().map(str::as_bytes),
        &p.data,
        lost,
    )?;
    obj.into_zval(false)
        .map_err(|e| PhpException::from_message(format!("Push\\Message: {e}")))
}

fn bytes_of<'a>(s: *mut zend_string) -> &'a [u8] {
    // SAFETY: set by zend_parse_parameters to a string alive for the call.
    unsafe { s.as_ref() }.map_or(&[][..], |s: &ZendStr| s.as_bytes())
}

/// `Push\Message::__construct(string $id, string $channel, ?string $event, string $data, bool $lost = false)`
extern "C" fn construct(ex: &mut ExecuteData, _retval: &mut Zval) {
    run_handler(AssertUnwindSafe(|| {
        let Some(zpp) = zend::parse_parameters() else {
            return;
        };
        let (mut id, mut channel, mut event, mut data, mut lost): (
            *mut zend_string,
            *mut zend_string,
            *mut zend_string,
            *mut zend_string,
            bool,
        ) = (
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            false,
        );
        // SAFETY: the spec's letters match the out-pointers (S, S!, b: bool).
        let rc = unsafe {
            zpp(
                zend::num_args(ex),
                c"SSS!S|b".as_ptr() as *const c_char,
                &mut id,
                &mut channel,
                &mut event,
                &mut data,
                &mut lost,
            )
        };
        if rc != 0 {
            return;
        }
        let Some(this) = ex.This.object_mut() else {
            return;
        };
        if read(this, c"id").is_some() {
            // Built already: refuse once, as PHP refuses to write a
            // readonly property twice (instead of one error per property).
            PhpException::new(
                "Cannot modify readonly property Push\\Message::$id".into(),
                0,
                ext_php_rs::zend::ce::error(),
            )
            .throw();
            return;
        }
        let event = (!event.is_null()).then(|| bytes_of(event));
        if let Err(e) = init(
            this,
            bytes_of(id),
            bytes_of(channel),
            event,
            bytes_of(data),
            lost,
        ) {
            e.throw();
        }
    }));
}

/// A string property of a `Push\Message`, or `None` while it is
/// uninitialised (the constructor has not run).
fn read(this: &mut ZendObject, name: &CStr) -> Option<Vec<u8>> {
    let ce = class()?;
    let mut rv = Zval::new();
    // SAFETY: reads a declared property of a live object, silently (an
    // uninitialised typed property reads as null, no error); `rv` is
    // scratch space for the engine, alive until the bytes are copied.
    let value = unsafe {
        zend_read_property(
            ptr::from_ref(ce).cast_mut(),
            this,
            name.as_ptr(),
            name.to_bytes().len(),
            true,
            &mut rv as *mut Zval as *mut zval,
        )
    };
    // SAFETY: zend_read_property returns a valid zval pointer.
    let value = unsafe { (value as *const Zval).as_ref() }?;
    value
        .zend_str()
        .filter(|_| value.is_string())
        .map(|s| s.as_bytes().to_vec())
}

/// `Push\Message::__toString(): string` — the data.
extern "C" fn to_string(ex: &mut ExecuteData, retval: &mut Zval) {
    run_handler(AssertUnwindSafe(|| {
        let Some(this) = ex.This.object_mut() else {
            return;
        };
        match read(this, c"data") {
            Some(s) => retval.set_zend_string(ZendStr::new(s, false)),
            // An uninitialised object (constructor not called).
            None => retval.set_zend_string(ZendStr::new("", false)),
        }
    }));
}
