//! The NIM endpoints: health, metadata and `/v1/infer`. Every answer is JSON
//! with `Connection: close`; errors use FastAPI's shapes, as NIM's server
//! does. One log line per request on stderr.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::{infer, AppState};

/// Largest request body (conditioning images arrive inline as base64).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// The routes, with the request log and `Connection: close` on every answer.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/health/ready", get(ready).fallback(only_get))
        .route("/v1/health/live", get(live).fallback(only_get))
        .route("/v1/metadata", get(metadata).fallback(only_get))
        .route("/v1/infer", post(infer).fallback(only_post))
        .fallback(not_found)
        .layer(middleware::from_fn(log_and_close))
        .with_state(state)
}

/// A JSON answer.
fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An error in FastAPI's plain form, `{"detail":"..."}`.
fn detail(status: StatusCode, msg: &str) -> Response {
    json_response(status, json!({ "detail": msg }).to_string())
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match state.served() {
        Some(_) => json_response(StatusCode::OK, r#"{"status":"ready"}"#.into()),
        None => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"not ready"}"#.into(),
        ),
    }
}

async fn live() -> Response {
    json_response(StatusCode::OK, r#"{"status":"live"}"#.into())
}

async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    let v = state.variant.as_str();
    let body = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "variant": v,
        "modes": [v],
        "demo": true,
        "profile": state.served().flatten(),
        "modelInfo": [{"shortName": format!("demo-nim:{v}"), "modelUrl": "demo://budgetguard/demo-nim"}],
    });
    json_response(StatusCode::OK, body.to_string())
}

async fn infer(State(state): State<Arc<AppState>>, body: Body) -> Response {
    if state.served().is_none() {
        return detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable: the model is not ready",
        );
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return detail(StatusCode::PAYLOAD_TOO_LARGE, "request too large");
    };
    let (status, answer) = infer::answer(&body, state.variant);
    json_response(status, answer.to_string())
}

fn not_allowed(allow: &'static str) -> Response {
    let mut r = detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

async fn only_get() -> Response {
    not_allowed("GET")
}

async fn only_post() -> Response {
    not_allowed("POST")
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

/// Logs `peer "METHOD /path" status bytes time` and closes the connection
/// after the answer.
async fn log_and_close(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_owned(), |c| c.0.to_string());
    let line = format!("{} {}", request.method(), request.uri().path());
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    eprintln!(
        "{peer} \"{line}\" {} {}B {}ms",
        response.status().as_u16(),
        response.body().size_hint().exact().unwrap_or(0),
        started.elapsed().as_millis()
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::infer::tests::artifact;
    use crate::serve::infer::{Mode, DEFAULT_SIZE, MAX_SIZE};
    use axum::http::HeaderMap;
    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower::ServiceExt;

    /// The routes of a server for `variant`, ready with `profile` when
    /// `ready`.
    fn app(variant: Mode, ready: bool, profile: Option<&str>) -> Router {
        let state = Arc::new(AppState::new(variant));
        if ready {
            state.set_ready(profile.map(str::to_owned));
        }
        router(state)
    }

    async fn call(
        app: &Router,
        method: &str,
        path: &str,
        body: &str,
    ) -> (StatusCode, HeaderMap, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn infer_json(app: &Router, body: &str) -> (StatusCode, Value) {
        let (status, _, text) = call(app, "POST", "/v1/infer", body).await;
        (status, serde_json::from_str(&text).unwrap())
    }

    fn error_type(v: &Value) -> &str {
        v["detail"][0]["type"].as_str().expect("a pydantic error")
    }

    #[tokio::test]
    async fn health_and_metadata() {
        let app = app(Mode::Base, true, Some("demo-base-cpu"));
        let (s, headers, body) = call(&app, "GET", "/v1/health/ready", "").await;
        assert_eq!(
            (s, body.as_str()),
            (StatusCode::OK, r#"{"status":"ready"}"#)
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::CONNECTION], "close");
        let (s, _, body) = call(&app, "GET", "/v1/health/live?probe=1", "").await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, r#"{"status":"live"}"#));
        let (s, _, body) = call(&app, "GET", "/v1/metadata", "").await;
        assert_eq!(s, StatusCode::OK);
        let meta: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(meta["variant"], "base");
        assert_eq!(meta["modes"], serde_json::json!(["base"]));
        assert_eq!(meta["profile"], "demo-base-cpu");
        assert_eq!(meta["modelInfo"][0]["shortName"], "demo-nim:base");
    }

    #[tokio::test]
    async fn not_ready_until_a_profile_is_served() {
        let state = Arc::new(AppState::new(Mode::Base));
        let app = router(Arc::clone(&state));
        let (s, _, body) = call(&app, "GET", "/v1/health/ready", "").await;
        assert_eq!(
            (s, body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"not ready"}"#)
        );
        assert_eq!(
            call(&app, "GET", "/v1/health/live", "").await.0,
            StatusCode::OK
        );
        let (s, v) = infer_json(&app, r#"{"prompt":"x"}"#).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(v["detail"].as_str().unwrap().contains("not ready"));
        let meta: Value =
            serde_json::from_str(&call(&app, "GET", "/v1/metadata", "").await.2).unwrap();
        assert_eq!(meta["profile"], Value::Null);
        state.set_ready(None);
        assert_eq!(
            call(&app, "GET", "/v1/health/ready", "").await.0,
            StatusCode::OK
        );
        assert_eq!(
            infer_json(&app, r#"{"prompt":"x"}"#).await.0,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn infer_returns_a_valid_png() {
        let app = app(Mode::Base, true, None);
        let req = r#"{"prompt":"a red fox","mode":"base","width":32,"height":16,"steps":4,"seed":42,"cfg_scale":3.5,"samples":1}"#;
        let (s, v) = infer_json(&app, req).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (w, h, rgb, seed) = artifact(&v);
        assert_eq!((w, h, seed), (32, 16, 42));
        assert_eq!(rgb.len(), 32 * 16 * 3);
        // Same prompt and seed, same picture; another prompt, another picture.
        assert_eq!(artifact(&infer_json(&app, req).await.1).2, rgb);
        let other = req.replace("red fox", "blue whale");
        assert_ne!(artifact(&infer_json(&app, &other).await.1).2, rgb);
    }

    #[tokio::test]
    async fn infer_defaults_and_clamps() {
        let app = app(Mode::Base, true, None);
        let (w, h, _, seed) = artifact(&infer_json(&app, r#"{"prompt":"x"}"#).await.1);
        assert_eq!((w, h), (DEFAULT_SIZE, DEFAULT_SIZE));
        assert!(
            (1..=u64::from(u32::MAX)).contains(&seed),
            "random seed {seed}"
        );
        let big = r#"{"prompt":"x","width":1024,"height":768,"seed":0}"#;
        let (w, h, _, _) = artifact(&infer_json(&app, big).await.1);
        assert_eq!((w, h), (MAX_SIZE, MAX_SIZE));
    }

    #[tokio::test]
    async fn infer_validation_errors() {
        let app = app(Mode::Base, true, None);
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
            (r#"{"prompt":"x","cfg_scale":"high"}"#, "float_type"),
            (
                r#"{"prompt":"x","image":"http://example/a.png"}"#,
                "value_error",
            ),
        ] {
            let (s, v) = infer_json(&app, body).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {v}");
            assert_eq!(error_type(&v), kind, "{body} -> {v}");
        }
    }

    #[tokio::test]
    async fn canny_container_needs_image_and_serves_canny_only() {
        let app = app(Mode::Canny, true, None);
        let (s, v) = infer_json(&app, r#"{"prompt":"x","mode":"canny"}"#).await;
        assert_eq!(
            (s, error_type(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "missing")
        );
        assert_eq!(v["detail"][0]["loc"], serde_json::json!(["body", "image"]));
        let (s, v) = infer_json(&app, r#"{"prompt":"x"}"#).await;
        assert_eq!(
            (s, error_type(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "value_error"),
            "mode defaults to base"
        );
        let ok = r#"{"prompt":"x","mode":"canny","image":"data:image/png;base64,iVBORw0KGgo=","width":8,"height":8}"#;
        let (s, v) = infer_json(&app, ok).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(artifact(&v).0, 8);
        let (_, _, meta) = call(&app, "GET", "/v1/metadata", "").await;
        assert!(meta.contains(r#""variant":"canny""#), "{meta}");
    }

    #[tokio::test]
    async fn unknown_paths_and_wrong_methods() {
        let app = app(Mode::Base, true, None);
        let (s, _, body) = call(&app, "GET", "/nope", "").await;
        assert_eq!(
            (s, body.as_str()),
            (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#)
        );
        let (s, headers, body) = call(&app, "GET", "/v1/infer", "").await;
        assert_eq!(
            (s, body.as_str()),
            (
                StatusCode::METHOD_NOT_ALLOWED,
                r#"{"detail":"Method Not Allowed"}"#
            )
        );
        assert_eq!(headers[header::ALLOW], "POST");
        let (s, headers, _) = call(&app, "POST", "/v1/health/ready", "{}").await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "GET");
        let huge = format!(r#"{{"prompt":"{}"}}"#, "x".repeat(MAX_BODY));
        let (s, _, body) = call(&app, "POST", "/v1/infer", &huge).await;
        assert_eq!(
            (s, body.as_str()),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"detail":"request too large"}"#
            )
        );
    }

    /// Serves `app` on a loopback port as `serve::run` does.
    async fn on_loopback(app: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        addr
    }

    #[tokio::test]
    async fn over_http_one_request_per_connection() {
        let addr = on_loopback(app(Mode::Base, true, None)).await;
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /v1/health/ready HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("connection: close\r\n"), "{answer}");
        assert!(answer.ends_with(r#"{"status":"ready"}"#), "{answer}");

        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"BLAH\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

        // Expect: 100-continue gets an interim answer, then the real one.
        let body = r#"{"prompt":"x","width":4,"height":4}"#;
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/infer HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut interim = [0u8; 25];
        s.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        s.write_all(body.as_bytes()).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    }
}
