//! How fast one client may start sign-ins and one session may call server
//! functions, before the portal answers 429.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// Sign-in starts (`/auth/login`) per client address and minute; the
    /// provider's returns (`/auth/callback`) are counted apart, at the same
    /// rate. A burst of this many is allowed, then one per 60/n seconds.
    pub sign_ins_per_minute: u32,
    /// Server-function calls (`POST /api/…`) per session and minute, with
    /// the same burst.
    pub server_functions_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { sign_ins_per_minute: 20, server_functions_per_minute: 300 }
    }
}
