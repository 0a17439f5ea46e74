//! The portal's database on SQLite and on PostgreSQL: sessions, the audit
//! trail (written as part of every action, none lost under concurrency) and
//! quota requests.

use app::audit::server::{Action, audited};
use app::audit::{AuditFilter, Outcome};
use app::error::AppError;
use app::platform::db::Db;
use app::teams::quota::QuotaRequest;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, SessionStore};

fn record(minutes: i64) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("atrium.user".to_string(), serde_json::json!({"username": "alice"}));
    Record { id: Id::default(), data, expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes) }
}

async fn round_trip(db: Db) {
    db.ping().await.expect("database answers");
    let store = db.session_store().await.expect("session table created");
    // Migrating twice is harmless (every replica migrates at start).
    db.session_store().await.expect("second migration");

    let mut live = record(10);
    store.create(&mut live).await.unwrap();
    let loaded = store.load(&live.id).await.unwrap().expect("saved session loads");
    assert_eq!(loaded.data["atrium.user"]["username"], "alice");

    let mut expired = record(-1);
    store.create(&mut expired).await.unwrap();
    assert!(store.load(&expired.id).await.unwrap().is_none(), "expired sessions do not load");
    store.delete_expired().await.unwrap();

    store.delete(&live.id).await.unwrap();
    assert!(store.load(&live.id).await.unwrap().is_none(), "deleted sessions are gone");
    audit_trail(&db).await;
    quota_requests(&db).await;
}

fn unique_team() -> String {
    format!("db-{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

async fn audit_trail(db: &Db) {
    db.migrate().await.expect("migrations");
    db.migrate().await.expect("migrations are idempotent");
    let team = unique_team();
    let a = |action: &'static str| Action { actor: "tom", team: Some(team.as_str()), action, object: "x" };
    audited(db, a("member.add"), async { Ok::<_, AppError>(()) }).await.unwrap();
    let refused = audited(db, a("quota.update"), async { Err::<(), _>(AppError::Forbidden("no".into())) }).await;
    assert!(refused.is_err());
    // Fifty actions at once: fifty entries, none lost.
    let many = (0..50).map(|_| audited(db, a("limits.update"), async { Ok::<_, AppError>(()) }));
    for r in futures::future::join_all(many).await {
        r.unwrap();
    }
    let all = db.audit_list(&AuditFilter { team: Some(team.clone()), limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 52);
    assert!(all.iter().all(|e| e.outcome != Outcome::Started), "every entry finished");
    let quota = db
        .audit_list(&AuditFilter { team: Some(team.clone()), action: Some("quota.".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(quota.len(), 1);
    assert_eq!(quota[0].outcome, Outcome::Refused);
    assert_eq!(quota[0].detail, "no");
    let by_other = db.audit_list(&AuditFilter { team: Some(team), actor: Some("paula".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert!(by_other.is_empty());
}

async fn quota_requests(db: &Db) {
    let team = unique_team();
    let r = QuotaRequest {
        id: 0,
        team: team.clone(),
        resource: "requests.nvidia.com/gpu".into(),
        amount: "8".into(),
        reason: "training".into(),
        requested_by: "tom".into(),
        requested_at_ms: 1,
        status: "pending".into(),
        decided_by: None,
        decision_reason: None,
    };
    let id = db.request_create(&r).await.unwrap();
    assert_eq!(db.requests_list(Some(&team), true).await.unwrap().len(), 1);
    let (first, second) = tokio::join!(db.request_decide(id, true, "paula", "ok", 2), db.request_decide(id, false, "pat", "no", 2));
    assert!(first.unwrap() ^ second.unwrap(), "exactly one decision wins");
    assert!(db.requests_list(Some(&team), true).await.unwrap().is_empty(), "no longer pending");
    let decided = db.request_get(id).await.unwrap().unwrap();
    assert_ne!(decided.status, "pending");
}

#[tokio::test]
async fn sessions_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    round_trip(Db::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn sessions_on_postgres() {
    let url = std::env::var("ATRIUM_TEST_POSTGRES_URL")
        .expect("ATRIUM_TEST_POSTGRES_URL must name a PostgreSQL database (./test.sh starts one)");
    round_trip(Db::connect(&url).await.expect("PostgreSQL reachable")).await;
}
