//! SHA-256 on a thread of its own, for the package writer's copy loop: the
//! loop fills a buffer, writes it into the ZIP entry and hands it over; the
//! thread hashes it and hands the buffer back. Hashing, the costliest work
//! of a create without compression, then overlaps reading and writing.

use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};

use sha2::{Digest, Sha256};

/// Buffers in turn: one being filled while the others are hashed or wait.
const BUFFERS: usize = 4;

/// What the copy loop hands the thread.
enum Job {
    /// Hash the first `usize` bytes of the buffer, then hand it back.
    Chunk(Vec<u8>, usize),
    /// Send the digest of everything so far, and start anew.
    Finish,
}

/// What the thread hands back.
enum Back {
    Buffer(Vec<u8>),
    Digest(String),
}

/// A SHA-256 hasher running on its own thread, with the buffers that pass
/// between it and the copy loop. The thread ends when this is dropped.
pub(crate) struct ThreadedHasher {
    jobs: SyncSender<Job>,
    back: Receiver<Back>,
    spare: Vec<Vec<u8>>,
}

impl ThreadedHasher {
    /// Starts the thread, with buffers of `chunk` bytes.
    pub(crate) fn start(chunk: usize) -> io::Result<Self> {
        let (jobs, queued) = mpsc::sync_channel::<Job>(BUFFERS);
        let (returns, back) = mpsc::channel();
        std::thread::Builder::new()
            .name("sha256".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                for job in queued {
                    let answer = match job {
                        Job::Chunk(buffer, n) => {
                            hasher.update(&buffer[..n]);
                            Back::Buffer(buffer)
                        }
                        Job::Finish => {
                            Back::Digest(hex::encode(std::mem::take(&mut hasher).finalize()))
                        }
                    };
                    if returns.send(answer).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Self {
            jobs,
            back,
            spare: vec![vec![0; chunk]; BUFFERS],
        })
    }

    /// A buffer to fill: a spare one, or the next one the thread is done
    /// with.
    pub(crate) fn buffer(&mut self) -> io::Result<Vec<u8>> {
        if let Some(buffer) = self.spare.pop() {
            return Ok(buffer);
        }
        match self.back.recv() {
            Ok(Back::Buffer(buffer)) => Ok(buffer),
            Ok(Back::Digest(_)) | Err(_) => Err(stopped()),
        }
    }

    /// Takes back a buffer that holds nothing to hash.
    pub(crate) fn give_back(&mut self, buffer: Vec<u8>) {
        self.spare.push(buffer);
    }

    /// Hands over the first `n` bytes of `buffer` to be hashed.
    pub(crate) fn hash(&mut self, buffer: Vec<u8>, n: usize) -> io::Result<()> {
        self.jobs.send(Job::Chunk(buffer, n)).map_err(|_| stopped())
    }

    /// The SHA-256, in hex, of everything handed over since the last
    /// finish; the next chunk starts a new digest.
    pub(crate) fn finish(&mut self) -> io::Result<String> {
        self.jobs.send(Job::Finish).map_err(|_| stopped())?;
        loop {
            match self.back.recv() {
                Ok(Back::Buffer(buffer)) => self.spare.push(buffer),
                Ok(Back::Digest(digest)) => return Ok(digest),
                Err(_) => return Err(stopped()),
            }
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("the hashing thread stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_sha256_across_chunks_and_restarts() {
        let mut hasher = ThreadedHasher::start(8).unwrap();
        let data: Vec<u8> = (0..100u8).collect();
        for _ in 0..3 {
            for chunk in data.chunks(7) {
                let mut buffer = hasher.buffer().unwrap();
                buffer[..chunk.len()].copy_from_slice(chunk);
                hasher.hash(buffer, chunk.len()).unwrap();
            }
            let digest = hasher.finish().unwrap();
            assert_eq!(digest, hex::encode(Sha256::digest(&data)));
        }
        assert_eq!(
            hasher.finish().unwrap(),
            hex::encode(Sha256::digest(b"")),
            "a finish with nothing handed over"
        );
        assert_eq!(hasher.spare.len(), BUFFERS, "every buffer came back");
    }
}
