//! A container's log: its last lines, standard output and error together,
//! as the engine keeps them (`docker logs --tail N`).

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;

use super::{api_error, Engine, EngineError};

/// The most bytes of log kept in memory, whatever the lines' length.
const MAX_BYTES: usize = 4 << 20;

impl Engine {
    /// The last `lines` lines of the container `name`'s log, oldest first;
    /// `None` when there is no such container. Lines are decoded as UTF-8
    /// (invalid bytes replaced) and carry no line end; a longer answer than a
    /// few megabytes is cut at its start.
    pub async fn logs(&self, name: &str, lines: usize) -> Result<Option<Vec<String>>, EngineError> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(false)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker().logs(name, Some(options));
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(LogOutput::StdOut { message })
                | Ok(LogOutput::StdErr { message })
                | Ok(LogOutput::Console { message }) => {
                    bytes.extend_from_slice(&message);
                    if bytes.len() > MAX_BYTES {
                        bytes.drain(..bytes.len() - MAX_BYTES);
                    }
                }
                Ok(LogOutput::StdIn { .. }) => {}
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(None),
                Err(source) => {
                    return Err(api_error(
                        format!("read the log of container `{name}`"),
                        source,
                    ))
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        let skip = all.len().saturating_sub(lines);
        Ok(Some(all[skip..].iter().map(|l| (*l).to_owned()).collect()))
    }
}
