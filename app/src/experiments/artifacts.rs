//! `GET /experiments/{team}/{id}/runs/{run}/artifact?path=…`: one file of a
//! run's artifacts, relayed from MLflow after the person's access was checked.
//!
//! Artifacts are whatever a notebook uploaded, so they never run on the
//! portal's origin: everything is a download (`attachment`, sent as bytes)
//! except common raster images, which may be shown; and every answer carries
//! `Content-Security-Policy: sandbox` and `nosniff`, so even a file opened
//! directly gets an opaque origin and no scripts.

use crate::error::AppError;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(serde::Deserialize)]
pub struct ArtifactQuery {
    pub path: String,
    /// Show an image in the page rather than download it.
    #[serde(default)]
    pub inline: bool,
}

/// What a file is served as: an image type that may be shown, or bytes.
pub fn served_as(path: &str) -> Option<&'static str> {
    let ext = path.rsplit('.').next().unwrap_or_default().to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        // Never SVG or HTML: they can carry scripts.
        _ => None,
    }
}

pub async fn download(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::Extension(who): axum::Extension<crate::auth::SignedIn>,
    axum::extract::Path((team, _experiment, run)): axum::extract::Path<(String, String, String)>,
    axum::extract::Query(q): axum::extract::Query<ArtifactQuery>,
) -> Response {
    let result = async {
        let path = super::api::check_artifact_path(&q.path)?;
        if path.is_empty() {
            return Err(AppError::Invalid("Name a file of the run's artifacts.".into()));
        }
        let mlflow = super::api::gate(&state, &who, &team, "get").await?;
        let res = mlflow.artifact(&team, &run, &path).await?;
        Ok((path, res))
    }
    .await;
    let (path, sent) = match result {
        Ok(ok) => ok,
        Err(e) => return (StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()).into_response(),
    };
    let name: String = path.rsplit('/').next().unwrap_or("artifact").chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    let image = served_as(&path);
    let (kind, disposition) = match image {
        Some(kind) if q.inline => (kind, format!("inline; filename=\"{name}\"")),
        _ => ("application/octet-stream", format!("attachment; filename=\"{name}\"")),
    };
    let mut res = Response::new(Body::from_stream(sent.bytes_stream()));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

#[cfg(test)]
mod tests {
    use super::served_as;

    #[test]
    fn only_raster_images_may_be_shown() {
        assert_eq!(served_as("plots/loss.PNG"), Some("image/png"));
        assert_eq!(served_as("a.jpeg"), Some("image/jpeg"));
        for p in ["x.svg", "report.html", "page.htm", "data.csv", "model.pkl", "noext", "a.xhtml"] {
            assert_eq!(served_as(p), None, "{p}");
        }
    }
}
