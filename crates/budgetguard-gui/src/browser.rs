//! Opening the user's default browser at the GUI's address.

use std::io;
use std::process::{Command, Stdio};

/// Opens `url` in the default browser (`xdg-open`, `open` or `start`);
/// returns once the opener has started.
pub fn open_browser(url: &str) -> io::Result<()> {
    let mut command = if cfg!(target_os = "windows") {
        let mut command = Command::new("cmd");
        // `start` takes the first quoted argument as a window title.
        command.args(["/C", "start", ""]);
        command
    } else if cfg!(target_os = "macos") {
        Command::new("open")
    } else {
        Command::new("xdg-open")
    };
    let mut child = command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Reap the opener when it exits, so it does not linger as a zombie.
    std::thread::spawn(move || child.wait());
    Ok(())
}
