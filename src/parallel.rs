//! The few ways veil runs work side by side, written once: two tasks at
//! once, and one task per index on the machine's cores. A panic on a
//! worker thread goes on on the calling thread, as if it had run there.

use std::thread::{Scope, ScopedJoinHandle};

/// Runs `first` on a thread of its own while `second` runs here; both
/// results.
pub fn both<A: Send, B>(first: impl FnOnce() -> A + Send, second: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let handle = scope.spawn(first);
        let b = second();
        (join(handle), b)
    })
}

/// `f(0), …, f(n - 1)`, each on a thread of its own when the machine has
/// more than one core, in order.
pub fn map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if n < 2 || cores() < 2 {
        return (0..n).map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n).map(|i| scope.spawn(move || f(i))).collect();
        handles.into_iter().map(join).collect()
    })
}

/// Runs `work` on `threads` threads at once; every thread's result.
pub fn workers<T: Send>(threads: usize, work: impl Fn() -> T + Sync) -> Vec<T> {
    let work = &work;
    std::thread::scope(|scope: &Scope<'_, '_>| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        handles.into_iter().map(join).collect()
    })
}

/// How many threads the machine runs at once.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get())
}

fn join<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
