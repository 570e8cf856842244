//! When progress is worth reporting: streaming loops count their bytes here
//! and report only every few megabytes, so a reporter is called rarely.

/// Bytes between two reports of a [`Throttle`].
pub const INTERVAL: u64 = 4 << 20;

/// Counts the bytes of one piece of work and says when a report is due: at
/// most once every [`INTERVAL`] bytes.
#[derive(Debug, Default)]
pub struct Throttle {
    done: u64,
    last: u64,
}

impl Throttle {
    /// Adds `bytes`; returns the bytes done so far when a report is due.
    pub fn add(&mut self, bytes: u64) -> Option<u64> {
        self.done += bytes;
        if self.done - self.last >= INTERVAL {
            self.last = self.done;
            Some(self.done)
        } else {
            None
        }
    }

    /// Bytes counted so far.
    pub fn done(&self) -> u64 {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_due_once_per_interval() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.add(INTERVAL - 1), None);
        assert_eq!(throttle.add(1), Some(INTERVAL));
        assert_eq!(throttle.add(INTERVAL / 2), None);
        assert_eq!(throttle.add(INTERVAL), Some(INTERVAL * 5 / 2));
        assert_eq!(throttle.done(), INTERVAL * 5 / 2);
    }
}
