//! A job's progress as the page shows it: the current step, bytes done of
//! the step's total, the rate and the time left, folded from the same
//! [`Event`]s the CLI's progress bars receive.

use std::time::{Duration, Instant};

use budgetguard::progress::{Event, Step};
use budgetguard::size::human;
use serde::Serialize;

use crate::format::{duration, quotes};

/// How many notes the page keeps.
const NOTES: usize = 5;

/// What a running job has reported so far. Steps may run at once (models
/// are written while the engine loads images): the page shows the latest
/// one still running, else the last to end.
#[derive(Debug)]
pub(crate) struct Progress {
    steps: Vec<StepState>,
    notes: Vec<String>,
}

/// One step that started.
#[derive(Debug)]
struct StepState {
    step: Step,
    total: Option<u64>,
    done: u64,
    finished: bool,
    started: Instant,
}

/// The progress of the current step, ready for the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProgressView {
    /// What is being done, e.g. `Exporting images`.
    pub step: String,
    /// Percent done of the step, when its size is known.
    pub percent: Option<u8>,
    /// Bytes done, and of how many.
    pub bytes: String,
    /// Bytes per second.
    pub rate: Option<String>,
    /// Time left, e.g. `1 min 5 s left`.
    pub eta: Option<String>,
    /// Recent notes from the library.
    pub notes: Vec<String>,
}

impl ProgressView {
    /// A full bar: the job succeeded.
    pub(crate) fn complete() -> Self {
        Self {
            step: "Done".to_owned(),
            percent: Some(100),
            bytes: String::new(),
            rate: None,
            eta: None,
            notes: Vec::new(),
        }
    }
}

impl Progress {
    /// No step yet.
    pub(crate) fn new() -> Self {
        Self {
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Takes one event into account.
    pub(crate) fn apply(&mut self, event: Event) {
        match event {
            Event::Started { step, total } => {
                self.steps.retain(|s| s.step != step);
                self.steps.push(StepState {
                    step,
                    total,
                    done: 0,
                    finished: false,
                    started: Instant::now(),
                });
            }
            Event::Advanced { step, done } => {
                if let Some(state) = self.steps.iter_mut().find(|s| s.step == step) {
                    state.done = done;
                }
            }
            Event::Finished { step } => {
                // Last in the list: shown once no step runs.
                if let Some(at) = self.steps.iter().position(|s| s.step == step) {
                    let mut state = self.steps.remove(at);
                    state.finished = true;
                    self.steps.push(state);
                }
            }
            Event::Note { message } => self.note(quotes(&message)),
            Event::Warning { warning } => self.note(crate::messages::warning(&warning)),
        }
    }

    /// Keeps `message` among the latest few notes.
    fn note(&mut self, message: String) {
        if self.notes.len() == NOTES {
            self.notes.remove(0);
        }
        self.notes.push(message);
    }

    /// The step shown: the latest one still running, else the last to end.
    fn shown(&self) -> Option<&StepState> {
        self.steps
            .iter()
            .rev()
            .find(|s| !s.finished)
            .or(self.steps.last())
    }

    /// The view now.
    pub(crate) fn view(&self) -> ProgressView {
        self.view_after(self.shown().map_or(Duration::ZERO, |s| s.started.elapsed()))
    }

    /// The view `elapsed` after the shown step started.
    fn view_after(&self, elapsed: Duration) -> ProgressView {
        let Some(StepState {
            step,
            total,
            done,
            finished,
            ..
        }) = self.shown()
        else {
            return ProgressView {
                step: "Preparing".to_owned(),
                percent: None,
                bytes: String::new(),
                rate: None,
                eta: None,
                notes: self.notes.clone(),
            };
        };
        let (total, done, finished) = (*total, *done, *finished);
        // An export's total is an estimate: the bar waits at 99 % for the end.
        let percent = match (finished, total) {
            (true, _) => Some(100),
            (false, Some(total)) if total > 0 => Some((done * 100 / total).min(99) as u8),
            _ => None,
        };
        let bytes = match total {
            Some(total) if done <= total && *step == Step::Export => {
                format!("{} of about {}", human(done), human(total))
            }
            Some(total) if done <= total => {
                format!("{} of {}", human(done), human(total))
            }
            _ if done == 0 => String::new(),
            _ => human(done),
        };
        let seconds = elapsed.as_secs_f64();
        let rate = (seconds >= 0.5 && done > 0).then(|| done as f64 / seconds);
        let eta = match (rate, total) {
            (Some(rate), Some(total)) if !finished && total > done => {
                Some(format!("{} left", duration((total - done) as f64 / rate)))
            }
            _ => None,
        };
        ProgressView {
            step: step.to_string(),
            percent,
            bytes,
            rate: rate.map(|r| format!("{}/s", human(r as u64))),
            eta,
            notes: self.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_that_run_at_once_are_shown_one_after_the_other() {
        let mut progress = Progress::new();
        progress.apply(Event::Started {
            step: Step::PlaceModels,
            total: Some(1000),
        });
        progress.apply(Event::Started {
            step: Step::Load,
            total: Some(500),
        });
        progress.apply(Event::Advanced {
            step: Step::Load,
            done: 250,
        });
        progress.apply(Event::Advanced {
            step: Step::PlaceModels,
            done: 100,
        });
        let view = progress.view_after(Duration::from_secs(1));
        assert_eq!(view.step, Step::Load.to_string());
        assert_eq!(view.percent, Some(50));
        progress.apply(Event::Finished { step: Step::Load });
        let view = progress.view_after(Duration::from_secs(1));
        assert_eq!(view.step, Step::PlaceModels.to_string());
        assert_eq!(view.percent, Some(10));
        progress.apply(Event::Finished {
            step: Step::PlaceModels,
        });
        let view = progress.view_after(Duration::from_secs(1));
        assert_eq!(view.step, Step::PlaceModels.to_string());
        assert_eq!(view.percent, Some(100));
    }

    #[test]
    fn a_step_shows_bytes_rate_and_time_left() {
        let mut progress = Progress::new();
        assert_eq!(progress.view_after(Duration::ZERO).step, "Preparing");
        progress.apply(Event::Started {
            step: Step::Verify,
            total: Some(100 << 20),
        });
        progress.apply(Event::Advanced {
            step: Step::Verify,
            done: 25 << 20,
        });
        let view = progress.view_after(Duration::from_secs(5));
        assert_eq!(view.step, "Verifying package");
        assert_eq!(view.percent, Some(25));
        assert_eq!(view.bytes, "25.0 MiB of 100.0 MiB");
        assert_eq!(view.rate.as_deref(), Some("5.0 MiB/s"));
        assert_eq!(view.eta.as_deref(), Some("15 s left"));
        progress.apply(Event::Finished { step: Step::Verify });
        let view = progress.view_after(Duration::from_secs(5));
        assert_eq!((view.percent, view.eta), (Some(100), None));
    }

    #[test]
    fn an_export_past_its_estimate_waits_at_99_percent() {
        let mut progress = Progress::new();
        progress.apply(Event::Started {
            step: Step::Export,
            total: Some(1000),
        });
        progress.apply(Event::Advanced {
            step: Step::Export,
            done: 1500,
        });
        let view = progress.view_after(Duration::from_secs(1));
        assert_eq!(view.percent, Some(99));
        assert_eq!(view.bytes, "1.5 KiB");
        assert_eq!(view.eta, None);
    }

    #[test]
    fn model_steps_read_well() {
        let mut progress = Progress::new();
        progress.apply(Event::Started {
            step: Step::FillModels("flux-dev".into()),
            total: None,
        });
        progress.apply(Event::Advanced {
            step: Step::FillModels("flux-dev".into()),
            done: 3 << 20,
        });
        let view = progress.view_after(Duration::from_secs(2));
        assert_eq!(view.step, "Downloading models (flux-dev)");
        assert_eq!(view.percent, None, "a download's size is not known");
        assert_eq!(view.bytes, "3.0 MiB");
        assert_eq!(view.rate.as_deref(), Some("1.5 MiB/s"));
        assert_eq!(view.eta, None);
        for (step, words) in [
            (Step::PackModels, "Packaging models"),
            (Step::PlaceModels, "Writing models"),
        ] {
            progress.apply(Event::Started {
                step: step.clone(),
                total: Some(4 << 20),
            });
            progress.apply(Event::Advanced {
                step,
                done: 1 << 20,
            });
            let view = progress.view_after(Duration::from_secs(1));
            assert_eq!(view.step, words);
            assert_eq!(view.bytes, "1.0 MiB of 4.0 MiB");
            assert_eq!(view.percent, Some(25));
        }
    }

    #[test]
    fn notes_keep_the_latest_few() {
        let mut progress = Progress::new();
        for i in 0..8 {
            progress.apply(Event::Note {
                message: format!("note {i}"),
            });
        }
        let notes = progress.view_after(Duration::ZERO).notes;
        assert_eq!(notes.first().map(String::as_str), Some("note 3"));
        assert_eq!(notes.len(), NOTES);
    }
}
