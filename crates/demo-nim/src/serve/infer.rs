//! `POST /v1/infer`: validates the request like NIM's FastAPI server (errors
//! in pydantic's shape) and answers one deterministic PNG.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::image;

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

/// A 422 answer in FastAPI/pydantic form: one entry in `detail`.
fn invalid(kind: &str, field: Option<&str>, msg: &str) -> (StatusCode, Value) {
    let loc = match field {
        Some(f) => json!(["body", f]),
        None => json!(["body"]),
    };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"type": kind, "loc": loc, "msg": msg}]}),
    )
}

/// Reads an optional integer field in `min..=max`; `Ok(None)` when absent or null.
fn int_field(
    v: &Value,
    name: &str,
    min: f64,
    max: f64,
) -> Result<Option<u64>, (StatusCode, Value)> {
    let Some(field) = v.get(name).filter(|f| !f.is_null()) else {
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

/// Answers an infer request body for a container serving `variant`.
pub fn answer(body: &[u8], variant: Mode) -> (StatusCode, Value) {
    let v: Value = match serde_json::from_slice(body) {
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
    match generate(&v, variant) {
        Ok(r) | Err(r) => r,
    }
}

/// Validates the request like NIM would, then renders and encodes the image.
fn generate(v: &Value, variant: Mode) -> Result<(StatusCode, Value), (StatusCode, Value)> {
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
    if mode != variant {
        return Err(invalid(
            "value_error",
            Some("mode"),
            &format!(
                "mode '{}' is not served by this container (NIM_MODEL_VARIANT={})",
                mode.as_str(),
                variant.as_str()
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
        None | Some(0) => image::random_seed(),
        Some(s) => s,
    };
    let (w, h) = (
        width.min(MAX_SIZE.into()) as u32,
        height.min(MAX_SIZE.into()) as u32,
    );
    Ok((
        StatusCode::OK,
        json!({"artifacts": [{
            "base64": image::png_base64(w, h, prompt, seed),
            "finishReason": "SUCCESS",
            "seed": seed,
        }]}),
    ))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::image::decode_png_base64;

    /// The picture of a 200 answer: (width, height, rgb, seed).
    pub fn artifact(v: &Value) -> (u32, u32, Vec<u8>, u64) {
        let arts = v["artifacts"].as_array().expect("artifacts");
        assert_eq!(arts.len(), 1);
        assert_eq!(arts[0]["finishReason"], "SUCCESS");
        let (w, h, rgb) = decode_png_base64(arts[0]["base64"].as_str().unwrap());
        (w, h, rgb, arts[0]["seed"].as_u64().unwrap())
    }

    #[test]
    fn depth_without_network() {
        let (status, v) = answer(
            br#"{"prompt":"p","mode":"depth","image":"data:image/png;base64,AA==","width":3,"height":2,"seed":9}"#,
            Mode::Depth,
        );
        assert_eq!(status, StatusCode::OK);
        let (w, h, _, seed) = artifact(&v);
        assert_eq!((w, h, seed), (3, 2, 9));
        assert_eq!(Mode::parse("depth"), Some(Mode::Depth));
        assert_eq!(Mode::parse("Depth"), None);
    }

    #[test]
    fn floats_with_no_fraction_count_as_integers() {
        let (status, v) = answer(
            br#"{"prompt":"p","width":4.0,"height":2,"seed":5}"#,
            Mode::Base,
        );
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(artifact(&v).0, 4);
        let (status, v) = answer(br#"{"prompt":"p","width":4.5}"#, Mode::Base);
        assert_eq!(
            (status, &v["detail"][0]["type"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("value_error"))
        );
    }
}
