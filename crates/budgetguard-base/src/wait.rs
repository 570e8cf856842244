//! Waiting for async work from a plain thread.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

/// Blocks this thread until `future` is ready: the future is driven by
/// wake-ups from the runtime that does the work, never by a runtime of this thread
/// (and outside its task budget, which a wait on one of its workers would
/// otherwise spend).
pub fn wait<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(tokio::task::unconstrained(future));
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
