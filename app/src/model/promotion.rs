//! A change of the version a model deployment serves, asked by an ML
//! engineer in a team whose promotions need a team admin's approval (the
//! models area's pages and the platform's store of requests share it).

use serde::{Deserialize, Serialize};

/// What a promotion request asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionAction {
    /// The canary's version serves everything; the previous one goes.
    #[default]
    Promote,
    /// An earlier version serves again.
    Serve,
    /// A new deployment serves a version (what it asks for is in `spec`).
    Deploy,
}

impl PromotionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionAction::Promote => "promote",
            PromotionAction::Serve => "serve",
            PromotionAction::Deploy => "deploy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "promote" => Some(PromotionAction::Promote),
            "serve" => Some(PromotionAction::Serve),
            "deploy" => Some(PromotionAction::Deploy),
            _ => None,
        }
    }
}

/// A change of the version a deployment serves, asked by an ML engineer
/// in a team whose promotions need approval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: i64,
    pub team: String,
    pub deployment: String,
    pub model: String,
    pub version: String,
    pub action: PromotionAction,
    /// The version that served when it was asked.
    pub from_version: String,
    pub requested_by: String,
    pub requested_at_ms: i64,
    /// `pending`, `approved` or `denied`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    /// For a new deployment: what was asked for, as the models area writes
    /// it (JSON), carried out as it is when approved.
    pub spec: Option<String>,
    /// Whether the person reading may approve or deny it.
    pub may_decide: bool,
}

impl Promotion {
    /// The request in words, e.g. "maria asks to promote version 2 (now
    /// version 1)".
    pub fn sentence(&self) -> String {
        match self.action {
            PromotionAction::Promote => format!(
                "{} asks to promote version {} to serve all traffic (version {} serves now)",
                self.requested_by, self.version, self.from_version
            ),
            PromotionAction::Serve => format!(
                "{} asks to serve version {} again (version {} serves now)",
                self.requested_by, self.version, self.from_version
            ),
            PromotionAction::Deploy => format!("{} asks to deploy version {} as “{}”", self.requested_by, self.version, self.deployment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_reads_as_a_sentence_and_its_action_survives_the_store() {
        let asked = |action| Promotion { deployment: "fraud".into(), version: "2".into(), action, from_version: "1".into(), requested_by: "maria".into(), ..Default::default() };
        assert_eq!(asked(PromotionAction::Deploy).sentence(), "maria asks to deploy version 2 as “fraud”");
        assert_eq!(asked(PromotionAction::Serve).sentence(), "maria asks to serve version 2 again (version 1 serves now)");
        for a in [PromotionAction::Promote, PromotionAction::Serve, PromotionAction::Deploy] {
            assert_eq!(PromotionAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(PromotionAction::parse("launch"), None);
    }
}
