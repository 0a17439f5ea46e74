//! What every request handler and server function can reach.

use crate::auth::oidc::Provider;
use crate::config::Config;
use crate::platform::{access::AccessCache, db::Db, kube::KubeGateway};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Arc<Services>,
}

pub struct Services {
    pub config: Config,
    pub kube: KubeGateway,
    pub oidc: Provider,
    pub db: Db,
    /// The session store, for the notebook origins' checks of the portal session.
    pub sessions: crate::platform::db::Sessions,
    /// Where notebooks are served, parsed once from the configuration.
    pub origins: crate::notebooks::origin::OriginPattern,
    pub access: AccessCache,
    pub notebooks: crate::notebooks::ops::NotebookService,
    /// The MLflow tracking server behind the experiments pages, if configured.
    pub mlflow: Option<crate::experiments::mlflow::Mlflow>,
    /// Where finished pipeline steps' logs are kept, if an object store is configured.
    pub logs: Option<crate::pipelines::archive::LogArchive>,
    /// Every team's pipeline runs, from one watch.
    pub runs: crate::pipelines::index::RunIndex,
    /// Serving, draining or stopping (after SIGTERM).
    pub lifecycle: crate::lifecycle::Lifecycle,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}
