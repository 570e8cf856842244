//! Whether each catalog node's image can be had on this machine: in
//! Docker already, pullable from its registry (asked for its manifest,
//! nothing downloaded), or not, because the registry cannot be reached or
//! wants a login. The Nodes table shows it, and Create names the one fix
//! while a selected node cannot be had.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use budgetguard::catalog::Node;
use budgetguard::engine::{Engine, ImageInfo};
use budgetguard::package::RegistrySource;
use budgetguard::reference::Reference;
use budgetguard::registry::{ClientOptions, RegistryClient, RegistryError, NGC_REGISTRY};
use budgetguard::size::human;
use serde::Serialize;

use super::{image_info, typical_text, Workstation};

/// How long a registry's answer is kept: the page asks again on each load
/// and each change of the options.
const KEPT: Duration = Duration::from_secs(60);

/// How long one registry may take to answer.
const ASK_LIMIT: Duration = Duration::from_secs(8);

/// Whether a node's image can be had, as the Nodes table says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Availability {
    /// `docker`, `pullable`, `slow`, `unreachable`, `login`, `missing` or
    /// `unknown`.
    pub state: &'static str,
    /// The table's tag, e.g. `Can be pulled`.
    pub word: &'static str,
    /// The tag's colour class.
    pub class: &'static str,
    /// What it takes: the image's size in Docker, or about what a pull
    /// downloads.
    pub size: Option<String>,
    /// Why Create cannot have it, with the one fix (but unticking it, which
    /// the page adds); `None` when it can be had, or when Create itself says
    /// why not at the field concerned (an image its registry lacks).
    pub reason: Option<String>,
}

/// Registry answers kept for [`KEPT`], by image.
#[derive(Debug, Default)]
pub(crate) struct Asked(Mutex<HashMap<String, (Instant, Availability)>>);

/// How long the engine's answers a Nodes page was rendered with serve its
/// availability call: the page makes it as soon as it loads.
const RENDERED_FOR: Duration = Duration::from_secs(10);

/// What the engine has of an image: its facts, none, or unknown (the
/// engine does not answer).
pub(crate) type Found = Result<Option<ImageInfo>, ()>;

/// The engine's answers, by image, that the last Nodes page was rendered
/// with, and when they came: taken once by that page's availability call,
/// so that a page load asks the engine about each image once.
#[derive(Debug, Default)]
pub(crate) struct Rendered(Mutex<Option<(Instant, HashMap<String, Found>)>>);

impl Rendered {
    /// The answers for `nodes`' images, in their order, if a page was just
    /// rendered with all of them; taken, so that a later call asks anew.
    fn take(&self, nodes: &[Node]) -> Option<Vec<Found>> {
        let (at, found) = self.0.lock().expect("not poisoned").take()?;
        if at.elapsed() > RENDERED_FOR {
            return None;
        }
        nodes
            .iter()
            .map(|node| found.get(&node.image).cloned())
            .collect()
    }
}

impl Availability {
    fn new(state: &'static str, word: &'static str, class: &'static str) -> Self {
        Self {
            state,
            word,
            class,
            size: None,
            reason: None,
        }
    }

    /// What a registry's refusal means for the node.
    fn refused(error: &RegistryError) -> Self {
        match error {
            RegistryError::Unreachable { registry, .. } => Self {
                reason: Some(format!(
                    "its registry {registry} cannot be reached from this machine: connect this machine to {registry}, or pull the image on a machine that can and load it into Docker here"
                )),
                ..Self::new("unreachable", "Registry unreachable", "bad")
            },
            RegistryError::Unauthorized { .. }
            | RegistryError::NoEntitlement { .. }
            | RegistryError::Denied { .. } => {
                let registry = match error {
                    RegistryError::Unauthorized { registry, .. }
                    | RegistryError::Denied { registry, .. } => registry.as_str(),
                    _ => NGC_REGISTRY,
                };
                let fix = if registry == NGC_REGISTRY {
                    "store an NGC API key that may pull it with “budgetguard-techops install-credentials”, then restart the GUI".to_owned()
                } else {
                    format!("log in with “docker login {registry}” in a terminal")
                };
                Self {
                    reason: Some(format!("{registry} wants a login that may pull it: {fix}")),
                    ..Self::new("login", "Login missing", "bad")
                }
            }
            // Built for other platforms only: Create's platform field may
            // name one of them, and the estimate says which.
            RegistryError::NoMatchingPlatform { .. } => {
                Self::new("pullable", "Can be pulled", "warn")
            }
            // Create and its estimate say these in their own words, at
            // their field.
            RegistryError::ManifestNotFound { .. } => {
                Self::new("missing", "Not on its registry", "bad")
            }
            _ => Self::new("unknown", "Unknown", "idle"),
        }
    }
}

/// What `engine` has of each of `nodes`' images, in their order (an image
/// several nodes share asked about once).
async fn images(engine: Option<&Engine>, nodes: &[Node]) -> Vec<Found> {
    let mut asked: HashMap<&str, Found> = HashMap::new();
    let mut found = Vec::new();
    for node in nodes {
        let answer = match asked.get(node.image.as_str()) {
            Some(answer) => answer.clone(),
            None => image_info(engine, node).await,
        };
        asked.insert(&node.image, answer.clone());
        found.push(answer);
    }
    found
}

impl Workstation {
    /// What `engine` has of each of `nodes`' images, in their order, for
    /// the Nodes page: kept a moment for the page's availability call.
    pub(crate) async fn page_images(&self, engine: Option<&Engine>, nodes: &[Node]) -> Vec<Found> {
        let found = images(engine, nodes).await;
        let by_image = nodes
            .iter()
            .zip(&found)
            .map(|(node, found)| (node.image.clone(), found.clone()))
            .collect();
        *self.rendered.0.lock().expect("not poisoned") = Some((Instant::now(), by_image));
        found
    }

    /// Whether each of `nodes`' images can be had, in their order: asked of
    /// `engine` (unless the page was just rendered with its answers), then
    /// of the registries (at once) for the images it lacks.
    pub(crate) async fn availability(
        &self,
        engine: Option<&Engine>,
        nodes: &[Node],
    ) -> Vec<Availability> {
        let in_engine = match self.rendered.take(nodes) {
            Some(found) => found,
            None => images(engine, nodes).await,
        };
        let mut found = Vec::new();
        for in_engine in in_engine {
            found.push(match in_engine {
                Ok(Some(info)) => Some(Availability {
                    size: Some(human(info.size)),
                    ..Availability::new("docker", "In Docker", "ok")
                }),
                Ok(None) => None,
                // Docker does not answer: only the registry can say.
                Err(()) => None,
            });
        }
        // Each image Docker lacks is asked of its registry once (FLUX
        // Dev, Canny and Depth share one), all of them at once.
        let mut lacking: Vec<&str> = nodes
            .iter()
            .zip(&found)
            .filter(|(_, found)| found.is_none())
            .map(|(node, _)| node.image.as_str())
            .collect();
        lacking.sort_unstable();
        lacking.dedup();
        let asks = lacking
            .into_iter()
            .map(|image| async move { (image, self.ask_registry(image).await) });
        let asked: HashMap<&str, Availability> = futures_util::future::join_all(asks)
            .await
            .into_iter()
            .collect();
        nodes
            .iter()
            .zip(found)
            .map(|(node, found)| {
                found.unwrap_or_else(|| {
                    let mut asked = asked[node.image.as_str()].clone();
                    // The registry cannot say: the catalog's typical size.
                    if asked.size.is_none() {
                        asked.size = node.typical_image_size.map(typical_text);
                    }
                    asked
                })
            })
            .collect()
    }

    /// Asks the image's registry for its manifest (kept a minute).
    async fn ask_registry(&self, image: &str) -> Availability {
        if let Some((at, kept)) = self.asked.0.lock().expect("not poisoned").get(image) {
            if at.elapsed() < KEPT {
                return kept.clone();
            }
        }
        let asked = self.resolve_remote(image).await;
        self.asked
            .0
            .lock()
            .expect("not poisoned")
            .insert(image.to_owned(), (Instant::now(), asked.clone()));
        asked
    }

    async fn resolve_remote(&self, image: &str) -> Availability {
        let reference = match Reference::parse(image) {
            Ok(reference) => reference.with_default_tag(),
            Err(_) => return Availability::new("unknown", "Unknown", "idle"),
        };
        let options = ClientOptions {
            retries: 0,
            // No connection within this: unreachable. Connected but silent
            // past ASK_LIMIT: slow, which may still serve a pull.
            connect_timeout: Duration::from_secs(4),
            read_timeout: ASK_LIMIT * 2,
            ..ClientOptions::default()
        };
        let client = match RegistryClient::new(self.session().auth(), options) {
            Ok(client) => client,
            Err(e) => return Availability::refused(&e),
        };
        let platform = RegistrySource::default().platform;
        match tokio::time::timeout(ASK_LIMIT, client.resolve(&reference, &platform)).await {
            Ok(Ok(resolved)) => Availability {
                size: Some(format!(
                    "about {} to download",
                    human(resolved.layers.iter().map(|l| l.size).sum())
                )),
                ..Availability::new("pullable", "Can be pulled", "warn")
            },
            Ok(Err(e)) => Availability::refused(&e),
            // A registry that takes its time may still serve a pull: said,
            // not refused.
            Err(_) => Availability::new("slow", "Registry slow to answer", "warn"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use budgetguard::session::{Session, Settings};

    use super::*;

    /// A registry on loopback that has no image: it counts the manifests
    /// asked for and answers each request 404.
    fn empty_registry() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let manifests = Arc::new(AtomicUsize::new(0));
        let counted = manifests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line.contains("/manifests/") {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    if line == "\r\n" {
                        let _ = stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        break;
                    }
                    line.clear();
                }
            }
        });
        (host, manifests)
    }

    #[tokio::test]
    async fn an_image_several_nodes_share_is_asked_of_its_registry_once() {
        let (registry, manifests) = empty_registry();
        let demo = budgetguard::catalog::Catalog::builtin()
            .nodes
            .into_iter()
            .find(|n| n.name == "Demo")
            .unwrap();
        let node = |name: &str, image: &str| Node {
            name: name.to_owned(),
            image: format!("{registry}/{image}"),
            ..demo.clone()
        };
        let nodes = [
            node("Dev", "flux:1"),
            node("Canny", "flux:1"),
            node("Depth", "flux:1"),
            node("Schnell", "schnell:1"),
        ];
        let workstation = Workstation::new(Session::new(Settings::default()));
        let said = workstation.availability(None, &nodes).await;
        assert_eq!(said.len(), 4);
        assert!(said.iter().all(|a| a.state == "missing"), "{said:?}");
        assert_eq!(manifests.load(Ordering::SeqCst), 2, "one ask per image");
    }
}
