//! Several blobs in flight for a reader that takes them one at a time.
//!
//! The package writer writes blobs into one ZIP, one after another, and may
//! keep nothing on disk or in memory beyond a bounded buffer. So the queue
//! hands out blobs in order while the next `jobs - 1` already download,
//! each into its own bounded buffer ([`super::ClientOptions::buffer`]): a
//! blob smaller than that arrives whole in the background (the many small
//! layers and configs of an image cost no round trips), a larger one gets a
//! head start of that many bytes and then waits, its connection held open
//! (or resumed with `Range` if the registry drops it meanwhile). Memory is
//! at most `jobs` buffers.

use std::collections::VecDeque;

use budgetguard_base::Cancel;

use crate::progress::SharedBlobReporter;
use crate::reference::Reference;
use crate::{BlobReader, Descriptor, RegistryClient};

/// Blobs handed out in order with up to `jobs` downloading.
pub struct BlobQueue {
    client: RegistryClient,
    pending: VecDeque<(Reference, Descriptor)>,
    open: VecDeque<(Descriptor, BlobReader)>,
    jobs: usize,
    reporter: SharedBlobReporter,
    cancel: Cancel,
}

impl std::fmt::Debug for BlobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobQueue")
            .field("pending", &self.pending.len())
            .field("open", &self.open.len())
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A queue over `blobs` of `reference` that keeps up to `jobs` (at least
    /// one) downloading: the one being read and those after it. Iterate it
    /// on a blocking thread.
    pub fn blob_queue(
        &self,
        reference: &Reference,
        blobs: Vec<Descriptor>,
        jobs: usize,
        reporter: SharedBlobReporter,
        cancel: &Cancel,
    ) -> BlobQueue {
        let blobs = blobs.into_iter().map(|b| (reference.clone(), b)).collect();
        self.blob_queue_of(blobs, jobs, reporter, cancel)
    }

    /// A queue over `blobs`, each of its own image's repository, that keeps
    /// up to `jobs` (at least one) downloading, across images: several
    /// images' blobs stream as one queue. Iterate it on a blocking thread.
    pub fn blob_queue_of(
        &self,
        blobs: Vec<(Reference, Descriptor)>,
        jobs: usize,
        reporter: SharedBlobReporter,
        cancel: &Cancel,
    ) -> BlobQueue {
        BlobQueue {
            client: self.clone(),
            pending: blobs.into(),
            open: VecDeque::new(),
            jobs: jobs.max(1),
            reporter,
            cancel: cancel.clone(),
        }
    }
}

impl BlobQueue {
    /// Opens blobs until `count` are open.
    fn fill(&mut self, count: usize) {
        while self.open.len() < count {
            let Some((reference, descriptor)) = self.pending.pop_front() else {
                return;
            };
            let reader =
                self.client
                    .open_blob(&reference, &descriptor, self.reporter.clone(), &self.cancel);
            self.open.push_back((descriptor, reader));
        }
    }
}

impl Iterator for BlobQueue {
    type Item = (Descriptor, BlobReader);

    fn next(&mut self) -> Option<Self::Item> {
        self.fill(1);
        let next = self.open.pop_front()?;
        // The one handed out counts as one of the `jobs`.
        self.fill(self.jobs - 1);
        Some(next)
    }
}
