//! Progress on the terminal: bars with bytes, rate and time left when stderr is
//! a terminal, plain lines otherwise (logs, CI).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use budgetguard::progress::{Event, Reporter, Step};
use budgetguard::size::human;
use indicatif::{ProgressBar, ProgressStyle};

/// Shows progress events on stderr.
pub struct TerminalReporter {
    state: Mutex<State>,
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
    /// Bars on a terminal unless `quiet`; plain lines elsewhere.
    pub fn new(quiet: bool) -> Self {
        Self {
            state: Mutex::new(State {
                bar: None,
                started: Instant::now(),
                total: None,
                last_line: Instant::now(),
            }),
            bars: !quiet && std::io::stderr().is_terminal(),
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
                state.started = Instant::now();
                state.last_line = Instant::now();
                state.total = total;
                if self.bars {
                    state.bar = Some(self.bar(&step, total));
                } else {
                    match total {
                        Some(total) => eprintln!("{step} ({})", human(total)),
                        None => eprintln!("{step}"),
                    }
                }
            }
            Event::Advanced { step, done } => {
                if let Some(bar) = &state.bar {
                    if state.total.is_some_and(|t| done > t) {
                        bar.set_length(done);
                    }
                    bar.set_position(done);
                } else if !self.bars && state.last_line.elapsed() >= LINE_INTERVAL {
                    state.last_line = Instant::now();
                    let rate = done as f64 / state.started.elapsed().as_secs_f64().max(0.001);
                    eprintln!("{step}: {} ({}/s)", human(done), human(rate as u64));
                }
            }
            Event::Finished { step } => {
                let elapsed = state.started.elapsed().as_secs_f64();
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                eprintln!("{step}: done in {elapsed:.1}s");
            }
            Event::Note { message } => match &state.bar {
                Some(bar) => bar.println(message),
                None => eprintln!("{message}"),
            },
        }
    }
}
