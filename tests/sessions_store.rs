//! Sessions survive in the portal's database, on SQLite and on PostgreSQL.

use app::platform::db::Db;
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
