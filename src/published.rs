//! A lock guard that, when let go, tells readers who do not take the lock what they need to know
//! (the engine's count of session changes, whether a stand has fault rules), so that the
//! requests that only need that take no lock for it.

use std::ops::{Deref, DerefMut};

use parking_lot::MutexGuard;

/// `T`, locked; `publish` runs on it when the lock is let go (with a plain store into an atomic,
/// it costs no locked instruction).
pub(crate) struct Published<'a, T, F: FnMut(&T)> {
    guard: MutexGuard<'a, T>,
    publish: F,
}

impl<'a, T, F: FnMut(&T)> Published<'a, T, F> {
    pub(crate) fn new(guard: MutexGuard<'a, T>, publish: F) -> Self {
        Published { guard, publish }
    }
}

impl<T, F: FnMut(&T)> Deref for Published<'_, T, F> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T, F: FnMut(&T)> DerefMut for Published<'_, T, F> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T, F: FnMut(&T)> Drop for Published<'_, T, F> {
    fn drop(&mut self) {
        (self.publish)(&self.guard);
    }
}
