//! The errors a page can show. Each variant is a sentence a person can act
//! on; internal detail is logged where the error is made and never crosses
//! to the browser.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// No session, or it ended.
    #[error("Please sign in to continue.")]
    Unauthorized,
    /// Kubernetes (or the portal's own rules) refused; the text says what is lacking.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Someone changed the object meanwhile, or it already exists.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong; the text says how.
    #[error("{0}")]
    Invalid(String),
    /// A quota or limit refused the request.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The Kubernetes API could not be reached.
    #[error("The Kubernetes API cannot be reached right now. Your work is safe; please try again in a moment.")]
    KubernetesUnavailable,
    /// Too many requests in a short time (sign-in starts per address,
    /// server-function calls per session).
    #[error("Too many requests in a short time. Please wait a moment and try again.")]
    TooManyRequests,
    /// The identity provider could not be reached.
    #[error("The identity provider cannot be reached right now, so signing in is not possible. Please try again in a moment.")]
    IdentityProviderUnavailable,
    /// The MLflow tracking server did not answer in time (or at all).
    #[error("The tracking server is not answering right now. Your runs are safe; this page will show them again once it is back, and the rest of Atrium works as usual.")]
    TrackingServerUnavailable,
    /// A deployment's model server did not answer (down, or still starting).
    #[error("The model server of deployment “{0}” is not answering: it may be down or still starting. Its status is shown above; try again once it is Ready.")]
    ModelServerUnavailable(String),
    /// The request could not be read (a malformed or missing argument): a
    /// client fault, answered with 400.
    #[error("This request could not be read ({0}). Reload the page and try again.")]
    Malformed(String),
    /// Anything else; details are in the server log under this reference.
    #[error("Something went wrong on our side (reference {0}). Please try again; if it keeps happening, tell your platform team.")]
    Internal(String),
}

impl AppError {
    /// The HTTP status a page showing this error is served with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Invalid(_) => 422,
            AppError::QuotaExceeded(_) => 403,
            AppError::KubernetesUnavailable => 503,
            AppError::TooManyRequests => 429,
            AppError::IdentityProviderUnavailable => 503,
            AppError::Malformed(_) => 400,
            AppError::TrackingServerUnavailable => 503,
            AppError::ModelServerUnavailable(_) => 503,
            AppError::Internal(_) => 500,
        }
    }

    /// A short title for an error page.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "Signed out",
            AppError::Forbidden(_) => "Not allowed",
            AppError::NotFound(_) => "Not found",
            AppError::Conflict(_) => "Changed meanwhile",
            AppError::Invalid(_) => "Cannot do that",
            AppError::QuotaExceeded(_) => "Over quota",
            AppError::KubernetesUnavailable => "Kubernetes unreachable",
            AppError::TooManyRequests => "Slow down",
            AppError::IdentityProviderUnavailable => "Sign-in unavailable",
            AppError::Malformed(_) => "Cannot read the request",
            AppError::TrackingServerUnavailable => "Tracking server not answering",
            AppError::ModelServerUnavailable(_) => "Model server not answering",
            AppError::Internal(_) => "Something went wrong",
        }
    }

    /// Logs `detail` with a fresh reference and returns the generic error
    /// that names it.
    #[cfg(feature = "ssr")]
    pub fn internal(detail: impl std::fmt::Display) -> AppError {
        let reference = reference_id();
        tracing::error!(reference = %reference, error = %detail, "internal error");
        AppError::Internal(reference)
    }
}

#[cfg(feature = "ssr")]
fn reference_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}", (nanos as u64) ^ n.rotate_left(48))
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server: the arguments sent do not decode.
            ServerFnErrorErr::Args(detail) => AppError::Malformed(first_line(&detail)),
            ServerFnErrorErr::MissingArg(name) => AppError::Malformed(format!("missing argument {}", first_line(&name))),
            // Transport and decoding failures: the browser could not talk to us.
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => AppError::Internal("network".into()),
            _ => AppError::Internal("server-function".into()),
        }
    }
}

/// At most one short line of a decoder's message: enough to say what is wrong.
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    line.chars().take(160).collect()
}

impl From<ServerFnErrorErr> for AppError {
    fn from(value: ServerFnErrorErr) -> Self {
        <AppError as FromServerFnError>::from_server_fn_error(value)
    }
}

pub type AppResult<T> = Result<T, AppError>;
