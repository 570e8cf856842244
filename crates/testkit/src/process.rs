//! Running a command while sampling what it uses: wall time, CPU time, peak
//! resident memory (`VmHWM`) and bytes it caused to be written to storage.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a measured run used.
#[derive(Debug, Clone)]
pub struct Measured {
    /// How it ended.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Wall time.
    pub wall: Duration,
    /// CPU time (user and system, all its threads): unlike the wall time, it
    /// does not grow when other work keeps the machine busy.
    pub cpu: Duration,
    /// Peak resident memory in bytes, as last sampled.
    pub peak_rss: u64,
    /// Bytes written to storage, as last sampled.
    pub write_bytes: u64,
}

/// Runs `command` to the end, sampling `/proc/<pid>` every 20 ms.
pub fn run_measured(command: &mut Command) -> Measured {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let proc_dir = format!("/proc/{}", child.id());
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || read_all(stdout));
    let err_thread = std::thread::spawn(move || read_all(stderr));
    let (mut peak_rss, mut write_bytes) = (0, 0);
    let cpu = loop {
        if let Some((rss, written)) = sample(Path::new(&proc_dir)) {
            peak_rss = peak_rss.max(rss);
            write_bytes = write_bytes.max(written);
        }
        if let Some(cpu) = cpu_time_once_ended(child.id()) {
            break cpu;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = child.wait().expect("the child is reaped");
    Measured {
        status,
        wall: started.elapsed(),
        cpu,
        stdout: out_thread.join().expect("reader thread"),
        stderr: err_thread.join().expect("reader thread"),
        peak_rss,
        write_bytes,
    }
}

/// The CPU time of child `pid` once it has ended, read while it is still a
/// zombie (waited for without being reaped); `None` while it runs.
fn cpu_time_once_ended(pid: u32) -> Option<Duration> {
    use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};
    let pid = Pid::from_raw(i32::try_from(pid).ok()?)?;
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    waitid(WaitId::Pid(pid), options).expect("the child can be waited for")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("a zombie's stat");
    // Fields after the command's `)`: state is the 3rd of the line, utime
    // and stime the 14th and 15th, in clock ticks.
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?;
    let per_second = rustix::param::clock_ticks_per_second();
    Some(Duration::from_millis(ticks * 1000 / per_second))
}

fn read_all(mut reader: impl std::io::Read) -> String {
    let mut text = String::new();
    let _ = reader.read_to_string(&mut text);
    text
}

/// `VmHWM` and `write_bytes` of a running process.
fn sample(proc_dir: &Path) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    let io = std::fs::read_to_string(proc_dir.join("io")).ok()?;
    let field = |text: &str, name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some((
        field(&status, "VmHWM:")? * 1024,
        field(&io, "write_bytes:")?,
    ))
}

/// A shell script's body that hangs: it notes its pid and that of its
/// child (a `sleep 600`) in the file `pids`, one a line, and waits.
pub fn hanging_script(pids: &Path) -> String {
    let pids = pids.display();
    format!("echo $$ >> '{pids}'\nsleep 600 &\necho $! >> '{pids}'\nwait")
}

/// Waits until every process listed in the file `pids` (one pid a line, as
/// [`hanging_script`] writes) has ended, and returns them; fails if there
/// are not `count`, or one still runs after `within`. A zombie left to
/// init counts as ended.
pub fn wait_ended(pids: &Path, count: usize, within: Duration) -> Vec<u32> {
    let listed: Vec<u32> = std::fs::read_to_string(pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    assert_eq!(
        listed.len(),
        count,
        "pids in {}: {listed:?}",
        pids.display()
    );
    let running = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.trim_start().chars().next())
                != Some('Z')
        })
    };
    let deadline = Instant::now() + within;
    while listed.iter().any(running) {
        assert!(Instant::now() < deadline, "{listed:?} still run");
        std::thread::sleep(Duration::from_millis(20));
    }
    listed
}
