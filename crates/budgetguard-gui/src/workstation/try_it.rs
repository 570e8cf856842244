//! **Try it**: a prompt sent to an installed node's inference endpoint on
//! this workstation, and the picture it answers, for the Installed page to
//! show inline. The request goes to the node's own loopback address and
//! inference path (from its install record), never to a URL from the page.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::Workstation;
use crate::format::duration;
use crate::messages::Message;

/// How long a node may take to answer (a FLUX node takes seconds on a
/// good GPU; the Demo about one).
const ANSWER_WAIT: Duration = Duration::from_secs(180);

/// The largest answer read: a few pictures' worth of base64.
const MAX_ANSWER: usize = 64 << 20;

/// The longest prompt sent.
const MAX_PROMPT: usize = 2000;

/// A node's answer to Try it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Tried {
    /// The picture, as a `data:image/png;base64,…` URL.
    pub image: String,
    /// The seed the node used, when it says.
    pub seed: Option<u64>,
    /// How long the node took, in words.
    pub took: String,
}

impl Workstation {
    /// Sends `prompt` to the installed node `name` and returns its picture.
    pub(crate) async fn try_node(&self, name: &str, prompt: &str) -> Result<Tried, Message> {
        let prompt = prompt.trim();
        if prompt.is_empty() {
            return Err(Message::new(
                "Enter a prompt: what the picture should show.",
            ));
        }
        if prompt.chars().count() > MAX_PROMPT {
            return Err(Message::new(format!(
                "The prompt is too long: at most {MAX_PROMPT} characters."
            )));
        }
        let installed = self
            .dir()?
            .installed(name)
            .map_err(|e| crate::messages::install_error(&e))?;
        let node = &installed.node;
        if matches!(node.variant.as_deref(), Some("canny" | "depth")) {
            return Err(Message::new(format!(
                "“{}” turns an input picture into a new one ({}): Try it sends a prompt only. Try a base node, or send it a picture from your application.",
                node.name,
                node.variant.as_deref().unwrap_or_default()
            )));
        }
        let url = format!("http://{}{}", node.local_address(), node.infer_path);
        let body = serde_json::json!({ "prompt": prompt, "seed": 0, "samples": 1 });
        let began = Instant::now();
        let unreachable = |detail: String| {
            Message::new(format!(
                "“{}” did not answer at {url} ({detail}): start it on this page and wait until it says Ready, then try again.",
                node.name
            ))
        };
        let client = reqwest::Client::builder()
            .timeout(ANSWER_WAIT)
            .no_proxy()
            // The node's own address only: a redirect would send the GUI elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        let mut response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| unreachable(budgetguard::error_text(&e)))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unreachable(budgetguard::error_text(&e)))?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(Message::new(format!(
                    "“{}” answered more than {} MiB: not a picture Try it can show.",
                    node.name,
                    MAX_ANSWER >> 20
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if !status.is_success() {
            let detail = match &answer["detail"] {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => {
                    String::from_utf8_lossy(&bytes).chars().take(300).collect()
                }
                other => other.to_string().chars().take(300).collect(),
            };
            let hint = if status.as_u16() == 503 {
                " It is not ready yet: wait until this page says Ready."
            } else {
                ""
            };
            return Err(Message::new(format!(
                "“{}” answered {status}: {detail}.{hint}",
                node.name
            )));
        }
        let artifact = &answer["artifacts"][0];
        let picture = artifact["base64"]
            .as_str()
            .filter(|b64| {
                !b64.is_empty()
                    && b64
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            })
            .ok_or_else(|| {
                Message::new(format!(
                    "“{}” answered without a picture: see its log on this page.",
                    node.name
                ))
            })?;
        Ok(Tried {
            image: format!("data:image/png;base64,{picture}"),
            seed: artifact["seed"].as_u64(),
            took: duration(began.elapsed().as_secs_f64()),
        })
    }
}
