//! The NIM endpoints: health, metadata and a fake `/v1/infer` that returns a
//! small generated PNG. Errors use FastAPI's shapes, as NIM's server does.

use crate::http::{Request, Response};
use crate::json::{self, Value};
use crate::{base64, png};
use std::time::{SystemTime, UNIX_EPOCH};

/// Width and height when the request gives none.
pub const DEFAULT_SIZE: u32 = 64;
/// Requested sizes are clamped to this (a real NIM renders 768-1344 px).
pub const MAX_SIZE: u32 = 256;

/// A FLUX model variant (`NIM_MODEL_VARIANT`) and request `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Text to image.
    Base,
    /// Image guided by a Canny edge map.
    Canny,
    /// Image guided by a depth map.
    Depth,
}

impl Mode {
    /// Parses `base`, `canny` or `depth`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "base" => Some(Mode::Base),
            "canny" => Some(Mode::Canny),
            "depth" => Some(Mode::Depth),
            _ => None,
        }
    }

    /// The lower-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Base => "base",
            Mode::Canny => "canny",
            Mode::Depth => "depth",
        }
    }
}

/// What a running server serves.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The variant this container was started as; only that mode is served.
    pub variant: Mode,
}

/// Routes one request to its handler.
pub fn handle(req: &Request, cfg: &Config) -> Response {
    let allowed = match req.path.as_str() {
        "/v1/health/ready" | "/v1/health/live" | "/v1/metadata" => "GET",
        "/v1/infer" => "POST",
        _ => return Response::detail(404, "Not Found"),
    };
    if req.method != allowed {
        return Response::detail(405, "Method Not Allowed").with_header("Allow", allowed);
    }
    match req.path.as_str() {
        "/v1/health/ready" => Response::json(200, r#"{"status":"ready"}"#),
        "/v1/health/live" => Response::json(200, r#"{"status":"live"}"#),
        "/v1/metadata" => metadata(cfg),
        _ => infer(&req.body, cfg),
    }
}

fn metadata(cfg: &Config) -> Response {
    let version = env!("CARGO_PKG_VERSION");
    let v = cfg.variant.as_str();
    let model =
        format!(r#"{{"shortName":"demo-nim:{v}","modelUrl":"demo://budgetguard/demo-nim"}}"#);
    Response::json(
        200,
        format!(
            r#"{{"version":"{version}","variant":"{v}","modes":["{v}"],"demo":true,"modelInfo":[{model}]}}"#
        ),
    )
}

/// A 422 answer in FastAPI/pydantic form: one entry in `detail`.
fn invalid(kind: &str, field: Option<&str>, msg: &str) -> Response {
    let loc = match field {
        Some(f) => format!(r#"["body","{}"]"#, json::escape(f)),
        None => r#"["body"]"#.to_string(),
    };
    Response::json(
        422,
        format!(
            r#"{{"detail":[{{"type":"{}","loc":{},"msg":"{}"}}]}}"#,
            json::escape(kind),
            loc,
            json::escape(msg)
        ),
    )
}

/// Reads an optional integer field in `min..=max`; `Ok(None)` when absent or null.
fn int_field(v: &Value, name: &str, min: f64, max: f64) -> Result<Option<u64>, Response> {
    let Some(field) = v.get(name).filter(|f| **f != Value::Null) else {
        return Ok(None);
    };
    match field.as_f64() {
        Some(n) if n.fract() == 0.0 && (min..=max).contains(&n) => Ok(Some(n as u64)),
        Some(_) => Err(invalid(
            "value_error",
            Some(name),
            &format!("Input should be an integer from {min} to {max}"),
        )),
        None => Err(invalid(
            "int_type",
            Some(name),
            "Input should be a valid integer",
        )),
    }
}

fn infer(body: &[u8], cfg: &Config) -> Response {
    let parsed = std::str::from_utf8(body)
        .map_err(|e| e.to_string())
        .and_then(json::parse);
    let v = match parsed {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return invalid(
                "model_attributes_type",
                None,
                "Input should be a valid dictionary",
            )
        }
        Err(e) => return invalid("json_invalid", None, &format!("JSON decode error: {e}")),
    };
    match generate(&v, cfg) {
        Ok(r) | Err(r) => r,
    }
}

/// Validates the request like NIM would, then renders and encodes the image.
fn generate(v: &Value, cfg: &Config) -> Result<Response, Response> {
    let prompt = match v.get("prompt") {
        None | Some(Value::Null) => {
            return Err(invalid("missing", Some("prompt"), "Field required"))
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(invalid(
                "string_too_short",
                Some("prompt"),
                "String should have at least 1 character",
            ))
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(invalid(
                "string_type",
                Some("prompt"),
                "Input should be a valid string",
            ))
        }
    };
    let mode = match v.get("mode") {
        None | Some(Value::Null) => Mode::Base,
        Some(m) => m.as_str().and_then(Mode::parse).ok_or_else(|| {
            invalid(
                "enum",
                Some("mode"),
                "Input should be 'base', 'canny' or 'depth'",
            )
        })?,
    };
    if mode != cfg.variant {
        return Err(invalid(
            "value_error",
            Some("mode"),
            &format!(
                "mode '{}' is not served by this container (NIM_MODEL_VARIANT={})",
                mode.as_str(),
                cfg.variant.as_str()
            ),
        ));
    }
    match v.get("image") {
        None | Some(Value::Null) if mode != Mode::Base => {
            let msg = format!(
                "Field required: mode '{}' needs a conditioning image",
                mode.as_str()
            );
            return Err(invalid("missing", Some("image"), &msg));
        }
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.starts_with("data:image/") && s.contains(";base64,") => {}
        Some(_) => {
            return Err(invalid(
                "value_error",
                Some("image"),
                "Input should be a data URL such as data:image/png;base64,...",
            ))
        }
    }
    let width = int_field(v, "width", 1.0, 4096.0)?.unwrap_or(DEFAULT_SIZE.into());
    let height = int_field(v, "height", 1.0, 4096.0)?.unwrap_or(DEFAULT_SIZE.into());
    int_field(v, "steps", 1.0, 100.0)?;
    int_field(v, "samples", 1.0, 1.0)?; // NIM makes one image per request
    match v.get("cfg_scale") {
        None | Some(Value::Null | Value::Number(_)) => {}
        Some(_) => {
            return Err(invalid(
                "float_type",
                Some("cfg_scale"),
                "Input should be a valid number",
            ))
        }
    }
    let seed = match int_field(v, "seed", 0.0, u32::MAX.into())? {
        None | Some(0) => random_seed(),
        Some(s) => s,
    };

    let (w, h) = (
        width.min(MAX_SIZE.into()) as u32,
        height.min(MAX_SIZE.into()) as u32,
    );
    let image = png::encode_rgb(w, h, &render(w, h, pattern_key(prompt, seed)));
    Ok(Response::json(
        200,
        format!(
            r#"{{"artifacts":[{{"base64":"{}","finishReason":"SUCCESS","seed":{}}}]}}"#,
            base64::encode(&image),
            seed
        ),
    ))
}

/// SplitMix64: a tiny, good-enough mixing function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed in 1..=u32::MAX from the clock, for requests with seed 0 or none.
fn random_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix(nanos) % u64::from(u32::MAX) + 1
}

/// Combines prompt and seed (FNV-1a over the prompt, then mixed).
fn pattern_key(prompt: &str, seed: u64) -> u64 {
    let fnv = prompt.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    mix(fnv ^ mix(seed))
}

/// A diagonal gradient between two colours picked by `key`, with a checker
/// overlay whose cell size also depends on `key`. Returns RGB bytes.
fn render(w: u32, h: u32, key: u64) -> Vec<u8> {
    let k = key.to_le_bytes();
    let (from, to) = ([k[0], k[1], k[2]], [k[3], k[4], k[5]]);
    let cell = 4 + u32::from(k[6] % 12);
    let span = (w + h).saturating_sub(2).max(1);
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let t = (x + y) * 255 / span; // 0..=255 along the diagonal
            let dark = (x / cell + y / cell) % 2 == 0;
            for c in 0..3 {
                let v = (u32::from(from[c]) * (255 - t) + u32::from(to[c]) * t) / 255;
                rgb.push(if dark { (v * 3 / 4) as u8 } else { v as u8 });
            }
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread::JoinHandle;

    /// A server on an ephemeral port, stopped (and joined) on drop.
    struct TestServer {
        addr: SocketAddr,
        stop: &'static AtomicBool,
        thread: Option<JoinHandle<()>>,
    }

    impl TestServer {
        fn start(variant: Mode) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
            let cfg = Config { variant };
            let thread = std::thread::spawn(move || server::serve(listener, cfg, stop).unwrap());
            TestServer {
                addr,
                stop,
                thread: Some(thread),
            }
        }

        /// Sends raw bytes, returns (status, head, body) of the answer.
        fn raw(&self, request: &[u8]) -> (u16, String, String) {
            let mut s = TcpStream::connect(self.addr).unwrap();
            s.write_all(request).unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").expect("complete response");
            let status = head[9..12].parse().unwrap();
            (status, head.to_string(), body.to_string())
        }

        fn get(&self, path: &str) -> (u16, String, String) {
            self.raw(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        }

        fn post(&self, path: &str, body: &str) -> (u16, String, String) {
            let req = format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            self.raw(req.as_bytes())
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                t.join().unwrap();
            }
        }
    }

    /// Pulls the PNG out of an infer answer and decodes it.
    fn artifact(body: &str) -> (u32, u32, Vec<u8>, u64) {
        let v = json::parse(body).unwrap();
        let Some(Value::Array(arts)) = v.get("artifacts") else {
            panic!("no artifacts in {body}")
        };
        assert_eq!(arts.len(), 1);
        assert_eq!(
            arts[0].get("finishReason").unwrap().as_str(),
            Some("SUCCESS")
        );
        let seed = arts[0].get("seed").unwrap().as_f64().unwrap() as u64;
        let data = base64::decode(arts[0].get("base64").unwrap().as_str().unwrap()).unwrap();
        let (w, h, rgb) = png::decode_rgb(&data).unwrap();
        (w, h, rgb, seed)
    }

    fn error_type(body: &str) -> String {
        let v = json::parse(body).unwrap();
        let Some(Value::Array(d)) = v.get("detail") else {
            panic!("no detail list in {body}")
        };
        d[0].get("type").unwrap().as_str().unwrap().to_string()
    }

    #[test]
    fn health_and_metadata() {
        let srv = TestServer::start(Mode::Base);
        let (s, head, body) = srv.get("/v1/health/ready");
        assert_eq!((s, body.as_str()), (200, r#"{"status":"ready"}"#));
        assert!(head.contains("Content-Type: application/json"));
        assert!(head.contains("Connection: close"));
        let (s, _, body) = srv.get("/v1/health/live?probe=1");
        assert_eq!((s, body.as_str()), (200, r#"{"status":"live"}"#));
        let (s, _, body) = srv.get("/v1/metadata");
        assert_eq!(s, 200);
        assert_eq!(
            json::parse(&body).unwrap().get("variant").unwrap().as_str(),
            Some("base")
        );
    }

    #[test]
    fn infer_returns_a_valid_png() {
        let srv = TestServer::start(Mode::Base);
        let req = r#"{"prompt":"a red fox","mode":"base","width":32,"height":16,"steps":4,"seed":42,"cfg_scale":3.5,"samples":1}"#;
        let (s, _, body) = srv.post("/v1/infer", req);
        assert_eq!(s, 200, "{body}");
        let (w, h, rgb, seed) = artifact(&body);
        assert_eq!((w, h, seed), (32, 16, 42));
        assert_eq!(rgb.len(), 32 * 16 * 3);
        // Same prompt and seed, same picture; another prompt, another picture.
        assert_eq!(artifact(&srv.post("/v1/infer", req).2).2, rgb);
        let other = req.replace("red fox", "blue whale");
        assert_ne!(artifact(&srv.post("/v1/infer", &other).2).2, rgb);
    }

    #[test]
    fn infer_defaults_and_clamps() {
        let srv = TestServer::start(Mode::Base);
        let (w, h, _, seed) = artifact(&srv.post("/v1/infer", r#"{"prompt":"x"}"#).2);
        assert_eq!((w, h), (DEFAULT_SIZE, DEFAULT_SIZE));
        assert!(
            (1..=u64::from(u32::MAX)).contains(&seed),
            "random seed {seed}"
        );
        let (w, h, _, _) = artifact(
            &srv.post(
                "/v1/infer",
                r#"{"prompt":"x","width":1024,"height":768,"seed":0}"#,
            )
            .2,
        );
        assert_eq!((w, h), (MAX_SIZE, MAX_SIZE));
    }

    #[test]
    fn infer_validation_errors() {
        let srv = TestServer::start(Mode::Base);
        for (body, kind) in [
            ("{not json", "json_invalid"),
            ("", "json_invalid"),
            ("[1]", "model_attributes_type"),
            (r#"{"mode":"base"}"#, "missing"),
            (r#"{"prompt":"  "}"#, "string_too_short"),
            (r#"{"prompt":7}"#, "string_type"),
            (r#"{"prompt":"x","mode":"sketch"}"#, "enum"),
            (
                r#"{"prompt":"x","mode":"canny","image":"data:image/png;base64,AA=="}"#,
                "value_error",
            ),
            (r#"{"prompt":"x","width":"big"}"#, "int_type"),
            (r#"{"prompt":"x","width":0}"#, "value_error"),
            (r#"{"prompt":"x","seed":-1}"#, "value_error"),
            (r#"{"prompt":"x","samples":2}"#, "value_error"),
            (
                r#"{"prompt":"x","image":"http://example/a.png"}"#,
                "value_error",
            ),
        ] {
            let (s, _, answer) = srv.post("/v1/infer", body);
            assert_eq!(s, 422, "{body} -> {answer}");
            assert_eq!(error_type(&answer), kind, "{body} -> {answer}");
        }
    }

    #[test]
    fn canny_container_needs_image_and_serves_canny_only() {
        let srv = TestServer::start(Mode::Canny);
        let (s, _, body) = srv.post("/v1/infer", r#"{"prompt":"x","mode":"canny"}"#);
        assert_eq!((s, error_type(&body).as_str()), (422, "missing"));
        assert!(body.contains(r#""loc":["body","image"]"#));
        let (s, _, body) = srv.post("/v1/infer", r#"{"prompt":"x"}"#);
        assert_eq!(
            (s, error_type(&body).as_str()),
            (422, "value_error"),
            "mode defaults to base"
        );
        let ok = r#"{"prompt":"x","mode":"canny","image":"data:image/png;base64,iVBORw0KGgo=","width":8,"height":8}"#;
        let (s, _, body) = srv.post("/v1/infer", ok);
        assert_eq!(s, 200, "{body}");
        assert_eq!(artifact(&body).0, 8);
        let (_, _, meta) = srv.get("/v1/metadata");
        assert!(meta.contains(r#""variant":"canny""#));
    }

    #[test]
    fn unknown_paths_wrong_methods_and_bad_http() {
        let srv = TestServer::start(Mode::Base);
        let (s, _, body) = srv.get("/nope");
        assert_eq!((s, body.as_str()), (404, r#"{"detail":"Not Found"}"#));
        let (s, head, _) = srv.get("/v1/infer");
        assert_eq!(s, 405);
        assert!(head.contains("Allow: POST"));
        let (s, head, _) = srv.post("/v1/health/ready", "{}");
        assert_eq!(s, 405);
        assert!(head.contains("Allow: GET"));
        assert_eq!(srv.raw(b"BLAH\r\n\r\n").0, 400);
        // Expect: 100-continue gets an interim answer, then the real one.
        let body = r#"{"prompt":"x","width":4,"height":4}"#;
        let mut s = TcpStream::connect(srv.addr).unwrap();
        let head = format!(
            "POST /v1/infer HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut interim = [0u8; 25];
        s.read_exact(&mut interim).unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        s.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    }

    #[test]
    fn handle_without_network() {
        let cfg = Config {
            variant: Mode::Depth,
        };
        let req = Request {
            method: "POST".into(),
            path: "/v1/infer".into(),
            headers: vec![],
            body: br#"{"prompt":"p","mode":"depth","image":"data:image/png;base64,AA==","width":3,"height":2,"seed":9}"#
                .to_vec(),
        };
        let r = handle(&req, &cfg);
        assert_eq!(r.status, 200);
        let (w, h, _, seed) = artifact(&r.body);
        assert_eq!((w, h, seed), (3, 2, 9));
        assert_eq!(Mode::parse("depth"), Some(Mode::Depth));
        assert_eq!(Mode::parse("Depth"), None);
    }
}
