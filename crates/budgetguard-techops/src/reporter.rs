//! Progress on the terminal, from the library's progress events: bars with
//! bytes, rate and time left when the printer allows them (stderr is a
//! terminal, no `--json`, no `-v`), plain lines otherwise (logs, CI), nothing
//! with `--quiet`. Every step is also logged with its duration.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use budgetguard::progress::{Event, Reporter, Step};
use budgetguard::size::human;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::printer::Printer;

/// Shows progress events on stderr. Steps may run at once (models are
/// written while the engine loads images): each has its own bar or lines.
pub struct TerminalReporter {
    state: Mutex<Vec<Running>>,
    bars: Option<MultiProgress>,
    printer: Printer,
}

/// A step that started and has not finished.
struct Running {
    step: Step,
    bar: Option<ProgressBar>,
    started: Instant,
    total: Option<u64>,
    last_line: Instant,
}

/// How often plain output prints a progress line.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl TerminalReporter {
    /// Progress as `printer` allows it.
    pub fn new(printer: &Printer) -> Self {
        Self {
            state: Mutex::new(Vec::new()),
            bars: printer.progress_bars().then(MultiProgress::new),
            printer: *printer,
        }
    }

    fn bar(&self, bars: &MultiProgress, step: &Step, total: Option<u64>) -> ProgressBar {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{msg:24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg:24} {bytes} {bytes_per_sec}")
                    .expect("the template is valid"),
            ),
        };
        let bar = bars.add(bar);
        bar.set_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// Prints a note on stderr, above the bars while there are any.
    fn note(&self, running: &[Running], message: impl std::fmt::Display) {
        match &self.bars {
            Some(bars) if running.iter().any(|r| r.bar.is_some()) => {
                bars.suspend(|| self.printer.note(message));
            }
            _ => self.printer.note(message),
        }
    }
}

impl Reporter for TerminalReporter {
    fn report(&self, event: Event) {
        let mut running = self
            .state
            .lock()
            .expect("the reporter lock is not poisoned");
        match event {
            Event::Started { step, total } => {
                tracing::info!(%step, total, "step started");
                running.retain(|r| r.step != step);
                let bar = self.bars.as_ref().map(|bars| self.bar(bars, &step, total));
                if bar.is_none() {
                    match total {
                        Some(total) => self.printer.note(format_args!("{step} ({})", human(total))),
                        None => self.printer.note(&step),
                    }
                }
                running.push(Running {
                    step,
                    bar,
                    started: Instant::now(),
                    total,
                    last_line: Instant::now(),
                });
            }
            Event::Advanced { step, done } => {
                let Some(run) = running.iter_mut().find(|r| r.step == step) else {
                    return;
                };
                if let Some(bar) = &run.bar {
                    if run.total.is_some_and(|t| done > t) {
                        bar.set_length(done);
                    }
                    bar.set_position(done);
                } else if run.last_line.elapsed() >= LINE_INTERVAL {
                    run.last_line = Instant::now();
                    let rate = done as f64 / run.started.elapsed().as_secs_f64().max(0.001);
                    self.printer.note(format_args!(
                        "{step}: {} ({}/s)",
                        human(done),
                        human(rate as u64)
                    ));
                }
            }
            Event::Finished { step } => {
                let Some(at) = running.iter().position(|r| r.step == step) else {
                    return;
                };
                let run = running.remove(at);
                let elapsed = run.started.elapsed().as_secs_f64();
                tracing::info!(%step, elapsed_s = elapsed, "step done");
                if let Some(bar) = run.bar {
                    bar.finish_and_clear();
                }
                self.note(&running, format_args!("{step}: done in {elapsed:.1}s"));
            }
            Event::Note { message } => {
                tracing::info!(%message, "note");
                self.note(&running, &message);
            }
            Event::Warning { warning } => {
                for line in self.printer.warning_lines(&warning) {
                    self.note(&running, line);
                }
            }
        }
    }
}
