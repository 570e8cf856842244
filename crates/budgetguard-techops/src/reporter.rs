//! Progress on the terminal, from the library's progress events: bars with
//! bytes, rate and time left when the printer allows them (stderr is a
//! terminal, no `--json`, no `-v`), plain lines otherwise (logs, CI), nothing
//! with `--quiet`. Every step is also logged with its duration.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use budgetguard::progress::{Event, Reporter, Step};
use budgetguard::size::human;
use indicatif::{ProgressBar, ProgressStyle};

use crate::printer::Printer;

/// Shows progress events on stderr.
pub struct TerminalReporter {
    state: Mutex<State>,
    printer: Printer,
    bars: bool,
}

struct State {
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
            state: Mutex::new(State {
                bar: None,
                started: Instant::now(),
                total: None,
                last_line: Instant::now(),
            }),
            printer: *printer,
            bars: printer.progress_bars(),
        }
    }

    fn bar(&self, step: &Step, total: Option<u64>) -> ProgressBar {
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
        bar.set_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}

impl Reporter for TerminalReporter {
    fn report(&self, event: Event) {
        let mut state = self
            .state
            .lock()
            .expect("the reporter lock is not poisoned");
        match event {
            Event::Started { step, total } => {
                tracing::info!(%step, total, "step started");
                state.started = Instant::now();
                state.last_line = Instant::now();
                state.total = total;
                if self.bars {
                    state.bar = Some(self.bar(&step, total));
                } else {
                    match total {
                        Some(total) => self.printer.note(format_args!("{step} ({})", human(total))),
                        None => self.printer.note(&step),
                    }
                }
            }
            Event::Advanced { step, done } => {
                if let Some(bar) = &state.bar {
                    if state.total.is_some_and(|t| done > t) {
                        bar.set_length(done);
                    }
                    bar.set_position(done);
                } else if state.last_line.elapsed() >= LINE_INTERVAL {
                    state.last_line = Instant::now();
                    let rate = done as f64 / state.started.elapsed().as_secs_f64().max(0.001);
                    self.printer.note(format_args!(
                        "{step}: {} ({}/s)",
                        human(done),
                        human(rate as u64)
                    ));
                }
            }
            Event::Finished { step } => {
                let elapsed = state.started.elapsed().as_secs_f64();
                tracing::info!(%step, elapsed_s = elapsed, "step done");
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                self.printer
                    .note(format_args!("{step}: done in {elapsed:.1}s"));
            }
            Event::Note { message } => {
                tracing::info!(%message, "note");
                match &state.bar {
                    Some(bar) => bar.println(message),
                    None => self.printer.note(message),
                }
            }
            Event::Warning { warning } => {
                for line in self.printer.warning_lines(&warning) {
                    match &state.bar {
                        Some(bar) => bar.suspend(|| anstream::eprintln!("{line}")),
                        None => anstream::eprintln!("{line}"),
                    }
                }
            }
        }
    }
}
