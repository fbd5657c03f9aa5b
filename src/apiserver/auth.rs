//! Bearer-token authentication for network clients (in-process clients bypass it).

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::state_dir::write_private;

/// The token every network request must carry as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    /// Reuses the token stored at `path` (so kubeconfigs survive a restart) or creates a
    /// random 256-bit one.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let text = text.trim();
            if text.len() >= 32 {
                return Ok(Token(text.into()));
            }
        }
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        write_private(path, token.as_bytes())?;
        Ok(Token(token.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so the token cannot be guessed byte by byte.
    fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// axum middleware: 401 unless the request carries the token.
pub async fn require_token(State(token): State<Token>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token.matches(presented.trim()) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}
