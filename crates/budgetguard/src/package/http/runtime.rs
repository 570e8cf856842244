//! The runtime a remote source's requests run on, its own: a reader on any
//! thread (a blocking one, or inside the caller's async code, as file reads
//! are) waits for them without entering the caller's runtime.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

/// Two worker threads for the source's requests; dropped without waiting
/// (also from async code).
pub(super) struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    pub(super) fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("package-http")
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    pub(super) fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }

    /// Runs `future` there and waits for its outcome.
    pub(super) fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        wait(self.handle().spawn(future)).expect("a request task does not panic")
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Blocks this thread until `future` is ready: the future is driven by
/// wake-ups from the source's runtime, never by a runtime of this thread
/// (and outside its task budget, which a wait on one of its workers would
/// otherwise spend).
pub(super) fn wait<F: Future>(future: F) -> F::Output {
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
