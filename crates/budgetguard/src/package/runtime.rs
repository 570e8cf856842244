//! The runtime a remote source's requests (HTTP, `oci://`) run on, its
//! own: a reader on any thread (a blocking one, or inside the caller's
//! async code, as file reads are) waits for them without entering the
//! caller's runtime.

use std::future::Future;
use std::io;

/// Two worker threads for the source's requests; dropped without waiting
/// (also from async code).
pub(crate) struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    pub(crate) fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("package-remote")
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }

    /// Runs `future` there and waits for its outcome.
    pub(crate) fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        budgetguard_base::wait(self.handle().spawn(future)).expect("a request task does not panic")
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
