//! Upgrading the portal's database, on SQLite and on PostgreSQL. For every
//! earlier schema (the database as a release whose newest migration was
//! the k-th left it, k = 0 being a fresh install), with the rows that
//! release could have written, the current release migrates at start and
//! reads every row back, then writes new ones. Migrations are forward-only:
//! nothing here goes back. A new migration without data of its own here
//! fails the test, so each one is upgraded into with something in it.

mod common;

use app::audit::{AuditFilter, Outcome};
use app::platform::db::Db;
use std::path::{Path, PathBuf};

/// Rows a release could have written into the tables `migration` made.
fn rows_of(migration: &str) -> &'static [&'static str] {
    match migration.split_once('_').map(|(_, name)| name.trim_end_matches(".sql")) {
        Some("audit_and_requests") => &[
            "INSERT INTO audit_events (at_ms, actor, team, action, object, outcome, detail) \
             VALUES (1700000000000, 'tom', 'up-team', 'member.add', 'maria', 'succeeded', '')",
            "INSERT INTO quota_requests (team, resource, amount, reason, requested_by, requested_at_ms) \
             VALUES ('up-team', 'requests.cpu', '8', 'training', 'tom', 1700000000001)",
        ],
        Some("people") => &["INSERT INTO people (username, display_name, groups_json, last_seen_ms) \
             VALUES ('maria', 'Maria', '[\"team-b-ml-engineers\"]', 1700000000002)"],
        Some("notebook_grants") => &["INSERT INTO portal_keys (name, value) VALUES ('jupyter-token', 'kept-key')"],
        Some("run_columns") => &["INSERT INTO run_columns (username, team, experiment, columns_json, updated_ms) \
             VALUES ('alice', 'up-team', '7', '[\"metrics.rmse\"]', 1700000000003)"],
        Some("promotion_requests") => &["INSERT INTO promotion_requests \
             (team, deployment, model, version, action, from_version, requested_by, requested_at_ms) \
             VALUES ('up-team', 'churn', 'Churn', '2', 'promote', '1', 'maria', 1700000000004)"],
        Some("promotion_spec") => &["INSERT INTO promotion_requests \
             (team, deployment, model, version, action, from_version, requested_by, requested_at_ms, spec) \
             VALUES ('up-team', 'fraud', 'Fraud', '1', 'deploy', '', 'maria', 1700000000005, '{\"name\":\"fraud\",\"cpu\":\"500m\"}')"],
        _ => panic!("migration {migration} has no rows in tests/upgrades.rs: add what its release could write"),
    }
}

fn migrations(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// The database as a release with `files` as its migrations (and `more` of
/// its own, name and SQL) left it, with the rows its releases wrote.
async fn migrated_by(db: &Db, files: &[PathBuf], more: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        std::fs::copy(f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    for (name, sql) in more {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    match db {
        Db::Sqlite(p) => migrator.run(p).await.unwrap(),
        Db::Postgres(p) => migrator.run(p).await.unwrap(),
    }
    for f in files {
        for sql in rows_of(&f.file_name().unwrap().to_string_lossy()) {
            match db {
                Db::Sqlite(p) => drop(sqlx::query(sql).execute(p).await.unwrap()),
                Db::Postgres(p) => drop(sqlx::query(sql).execute(p).await.unwrap()),
            }
        }
    }
}

/// What the current release reads of the rows the first `k` migrations'
/// releases wrote, and that it can write on.
async fn reads_back(db: &Db, files: &[PathBuf], k: usize) {
    let had = |name: &str| files[..k].iter().any(|f| f.to_string_lossy().contains(name));
    let audit = db.audit_list(&AuditFilter { team: Some("up-team".into()), limit: 10, ..Default::default() }).await.unwrap();
    let quota = db.requests_list(Some("up-team"), true).await.unwrap();
    if had("audit_and_requests") {
        assert_eq!(audit.len(), 1, "the audit trail, from schema {k}");
        assert_eq!((audit[0].actor.as_str(), audit[0].object.as_str(), audit[0].outcome), ("tom", "maria", Outcome::Succeeded));
        assert_eq!(quota.len(), 1, "the pending quota request, from schema {k}");
        assert_eq!((quota[0].amount.as_str(), quota[0].requested_by.as_str()), ("8", "tom"));
    } else {
        assert!(audit.is_empty() && quota.is_empty());
    }
    assert_eq!(db.person_exists("maria").await.unwrap(), had("people"), "people, from schema {k}");
    let key = db.portal_key("jupyter-token", "a-new-key").await.unwrap();
    assert_eq!(key, if had("notebook_grants") { "kept-key" } else { "a-new-key" }, "the portal's keys, from schema {k}");
    let columns = db.run_columns("alice", "up-team", "7").await.unwrap();
    assert_eq!(columns, had("run_columns").then(|| vec!["metrics.rmse".to_string()]), "chosen columns, from schema {k}");
    let waiting = db.promotions_pending("up-team").await.unwrap();
    let expected: Vec<(&str, Option<&str>)> = [had("promotion_requests").then_some(("churn", None)), had("promotion_spec").then_some(("fraud", Some("{\"name\":\"fraud\",\"cpu\":\"500m\"}")))]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(waiting.iter().map(|p| (p.deployment.as_str(), p.spec.as_deref())).collect::<Vec<_>>(), expected, "pending promotions and deployments, from schema {k}");
    if had("promotion_spec") {
        assert_eq!(waiting[1].action, app::model::promotion::PromotionAction::Deploy);
    }

    // And the upgraded database takes new rows of every kind.
    let id = db.audit_begin(1700000000100, "paula", Some("up-team"), "team.create", "up-team").await.unwrap();
    db.audit_finish(id, Outcome::Succeeded, "").await.unwrap();
    db.person_seen("tom", "Tom", &["team-a-admins".into()], 1700000000101).await.unwrap();
    db.set_run_columns("alice", "up-team", "8", &["params.lr".into()], 1700000000102).await.unwrap();
    assert_eq!(db.run_columns("alice", "up-team", "8").await.unwrap(), Some(vec!["params.lr".to_string()]));
    let asked = app::model::promotion::Promotion {
        team: "up-team".into(),
        deployment: "new-one".into(),
        model: "New".into(),
        version: "3".into(),
        action: app::model::promotion::PromotionAction::Deploy,
        requested_by: "maria".into(),
        requested_at_ms: 1700000000103,
        spec: Some("{}".into()),
        ..Default::default()
    };
    let id = db.promotion_create(&asked).await.unwrap();
    assert_eq!(db.promotion_get(id).await.unwrap().map(|p| (p.action, p.spec)), Some((app::model::promotion::PromotionAction::Deploy, Some("{}".into()))));
}

async fn upgrade_from_every_schema(dir: &str, fresh: impl AsyncFn(usize) -> Db) {
    let files = migrations(dir);
    assert!(!files.is_empty());
    for k in 0..=files.len() {
        let db = fresh(k).await;
        migrated_by(&db, &files[..k], &[]).await;
        db.migrate().await.unwrap_or_else(|e| panic!("migrating from schema {k} of {}: {e}", files.len()));
        // A second replica starting migrates again: nothing to do.
        db.migrate().await.unwrap();
        reads_back(&db, &files, k).await;
    }
}

/// A later release migrated the database (one more migration, additive as
/// all are) and is then rolled back, or an earlier replica restarts in the
/// middle of its rollout: this release still starts on that schema and
/// serves from it.
async fn starts_on_a_later_schema(dir: &str, db: Db) {
    let files = migrations(dir);
    migrated_by(&db, &files, &[("29991231000001_later.sql", "ALTER TABLE audit_events ADD COLUMN later_note TEXT;\n")]).await;
    db.migrate().await.expect("this release starts on the schema of a later one");
    reads_back(&db, &files, files.len()).await;
}

#[tokio::test]
async fn sqlite_this_release_starts_on_a_later_releases_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("later.db").display());
    starts_on_a_later_schema("app/migrations/sqlite", Db::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_this_release_starts_on_a_later_releases_schema() {
    let url = common::postgres_database("later").await;
    starts_on_a_later_schema("app/migrations/postgres", Db::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_upgrades_from_every_earlier_schema_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_from_every_schema("app/migrations/sqlite", async |k| {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join(format!("schema-{k}.db")).display());
        Db::connect(&url).await.unwrap()
    })
    .await;
}

#[tokio::test]
async fn postgres_upgrades_from_every_earlier_schema_keeping_its_rows() {
    upgrade_from_every_schema("app/migrations/postgres", async |k| {
        Db::connect(&common::postgres_database(&format!("upgrade-{k}")).await).await.unwrap()
    })
    .await;
}
