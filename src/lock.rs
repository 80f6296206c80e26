//! One policy for a poisoned lock: recover the data, say so once, go on.
//!
//! A `Mutex` is *poisoned* when a thread panics while holding it. std then
//! makes every later `lock` return an error, on the theory that the data
//! may be half-updated. Our critical sections are a few plain statements
//! each (insert a name, copy bytes into a queue), so the data is consistent
//! enough to go on, and one client's bug must not take the server down. So
//! every lock in the crate is taken through [`lock`], which recovers the
//! data, clears the poison, and logs it, after letting go of the lock
//! (nothing is ever written to stderr while a lock is held: a stalled
//! stderr pipe must not freeze the server).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::log;

/// Locks `mutex`, recovering it if a panic poisoned it. `what` names the
/// lock in the log line.
pub(crate) fn lock<'a, T>(mutex: &'a Mutex<T>, what: &str) -> MutexGuard<'a, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            mutex.clear_poison();
            drop(poisoned.into_inner());
            log!("the {what} lock was poisoned by a panic; carrying on with its data");
            mutex.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }
}

/// Waits on `condvar`, recovering a poisoned lock like [`lock`].
pub(crate) fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar` for at most `limit`, recovering a poisoned lock.
pub(crate) fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    limit: Duration,
) -> MutexGuard<'a, T> {
    match condvar.wait_timeout(guard, limit) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{self, AssertUnwindSafe};

    #[test]
    fn a_poisoned_lock_is_recovered_and_cleared() {
        let mutex = Mutex::new(1);
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut guard = mutex.lock().expect("first lock");
            *guard = 2;
            panic!("a bug while holding the lock");
        }));
        assert!(mutex.is_poisoned());
        assert_eq!(*lock(&mutex, "test"), 2);
        assert!(!mutex.is_poisoned());
    }
}
