//! Signal handling during blocking calls.

use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;

use ext_php_rs::zend::{bailout, try_catch, CatchError, ExecutorGlobals};

use crate::zend::{self, Interrupt};

/// Lets PHP run its pending signal handlers while a call blocks, and keeps
/// a bail-out (exit() in a handler) from jumping over Rust frames: it is
/// caught here and re-raised by [`PhpSignals::finish`] once the frames that
/// hold resources have returned.
#[derive(Default)]
pub(super) struct PhpSignals {
    bailed_out: bool,
}

impl PhpSignals {
    pub(super) fn check(&mut self) -> ControlFlow<()> {
        // SAFETY: called on the PHP thread during a function call, inside
        // try_catch's zend_try.
        match try_catch(AssertUnwindSafe(|| unsafe { zend::handle_interrupt() })) {
            Ok(Interrupt::None) => ControlFlow::Continue(()),
            Ok(Interrupt::Handled) if !ExecutorGlobals::has_exception() => {
                ControlFlow::Continue(())
            }
            Ok(_) => ControlFlow::Break(()),
            Err(CatchError::Bailout) => {
                self.bailed_out = true;
                ControlFlow::Break(())
            }
            Err(_) => ControlFlow::Break(()),
        }
    }

    pub(super) fn finish(self) {
        if self.bailed_out {
            // SAFETY: every Rust frame that owned resources has returned; the
            // caller's run_handler re-raises through its own zend_try.
            unsafe { bailout() }
        }
    }
}
