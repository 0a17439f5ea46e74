//! Signing in and who is signed in. The browser holds only an opaque session
//! cookie; the identity used against Kubernetes comes from the ID token the
//! portal verified, kept server-side in the session.

use crate::identity::Memberships;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
mod back_channel;
#[cfg(feature = "ssr")]
mod discovery;
#[cfg(feature = "ssr")]
pub mod oidc;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
mod session;
#[cfg(feature = "ssr")]
pub use session::{SessionUser, SignedIn, current, resolve_session};

/// The verified person behind a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The provider's stable subject identifier.
    pub subject: String,
    /// The Kubernetes username the portal impersonates.
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// Groups from the verified token (impersonated as Kubernetes groups).
    pub groups: Vec<String>,
    pub memberships: Memberships,
}
