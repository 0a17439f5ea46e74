//! Access answers kept per session, each tagged with the namespace it is
//! about, so a change to one namespace's RBAC forgets only what it touches.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What an RBAC change may have touched.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccessChange {
    /// A ClusterRole or ClusterRoleBinding changed (or changes were missed):
    /// any answer may be different now.
    Everywhere,
    /// A Role or RoleBinding of this namespace changed: answers about it,
    /// and which teams people see.
    Namespace(String),
}

impl AccessChange {
    /// Whether answers about `namespace` may be different now.
    pub fn touches(&self, namespace: &str) -> bool {
        match self {
            AccessChange::Everywhere => true,
            AccessChange::Namespace(ns) => ns == namespace,
        }
    }
}

struct Entry<T> {
    at: Instant,
    /// The namespace the answer is about; `None` for cluster-wide answers.
    namespace: Option<String>,
    value: T,
}

/// Answers by key (session and question), each with the time it was asked.
pub(super) struct Answers<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T: Clone> Answers<T> {
    pub(super) fn new() -> Self {
        Answers { entries: Mutex::new(HashMap::new()) }
    }

    /// The answer for `key`, if asked less than `ttl` ago.
    pub(super) fn get(&self, key: &str, ttl: Duration) -> Option<T> {
        let entries = self.entries.lock().expect("access answers");
        entries.get(key).filter(|e| e.at.elapsed() < ttl).map(|e| e.value.clone())
    }

    #[cfg(test)]
    pub(super) fn put(&self, key: &str, namespace: Option<&str>, value: T, ttl: Duration) {
        self.put_if(key, namespace, value, ttl, || true);
    }

    /// Keeps the answer if `still` holds, checked while no one forgets.
    pub(super) fn put_if(&self, key: &str, namespace: Option<&str>, value: T, ttl: Duration, still: impl FnOnce() -> bool) {
        let mut entries = self.entries.lock().expect("access answers");
        if !still() {
            return;
        }
        if entries.len() > 10_000 {
            entries.retain(|_, e| e.at.elapsed() < ttl);
        }
        let entry = Entry { at: Instant::now(), namespace: namespace.map(str::to_owned), value };
        entries.insert(key.to_owned(), entry);
    }

    /// Forgets every answer `change` may have changed. With `all`, every
    /// answer, whatever it is about (lists of teams, rules of several namespaces).
    pub(super) fn forget(&self, change: &AccessChange, all: bool) {
        let mut entries = self.entries.lock().expect("access answers");
        match change {
            _ if all => entries.clear(),
            AccessChange::Everywhere => entries.clear(),
            AccessChange::Namespace(ns) => entries.retain(|_, e| e.namespace.as_deref() != Some(ns.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    #[test]
    fn a_namespace_change_forgets_only_answers_about_that_namespace() {
        let answers = Answers::new();
        answers.put("s|list|team-a", Some("team-a"), true, LONG);
        answers.put("s|list|team-b", Some("team-b"), true, LONG);
        answers.put("s|create namespaces", None, false, LONG);
        answers.forget(&AccessChange::Namespace("team-a".into()), false);
        assert_eq!(answers.get("s|list|team-a", LONG), None);
        assert_eq!(answers.get("s|list|team-b", LONG), Some(true));
        assert_eq!(answers.get("s|create namespaces", LONG), Some(false));
        answers.forget(&AccessChange::Everywhere, false);
        assert_eq!(answers.get("s|list|team-b", LONG), None);
        assert_eq!(answers.get("s|create namespaces", LONG), None);
    }

    #[test]
    fn forgetting_all_ignores_the_namespace() {
        let answers = Answers::new();
        answers.put("s", None, vec!["team-a".to_string()], LONG);
        answers.forget(&AccessChange::Namespace("team-b".into()), true);
        assert_eq!(answers.get("s", LONG), None);
    }

    #[test]
    fn answers_expire_with_the_ttl_asked_for() {
        let answers = Answers::new();
        answers.put("s", None, 1, LONG);
        assert_eq!(answers.get("s", LONG), Some(1));
        assert_eq!(answers.get("s", Duration::ZERO), None, "a shorter TTL applies to answers already kept");
    }

    #[test]
    fn changes_touch_their_namespace_or_all() {
        assert!(AccessChange::Everywhere.touches("team-a"));
        assert!(AccessChange::Namespace("team-a".into()).touches("team-a"));
        assert!(!AccessChange::Namespace("team-b".into()).touches("team-a"));
    }
}
