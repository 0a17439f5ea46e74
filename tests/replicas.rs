//! Three portal processes on one PostgreSQL behind the real HAProxy (round
//! robin, no stickiness), as `scripts/replicas.sh` runs them and as a
//! Deployment of three does behind its Service. People sign in, create a
//! notebook and ask for quota while their requests land on any replica;
//! one replica dies mid-flow; later the replicas are rolled, one by one,
//! from the earlier release to this one, on one database.

mod common;

use common::notebooks::Team;
use common::replicas::{self, LoadBalancer, Shared, served_by};
use common::{LOGIN_PORT, browser, login_port, postgres_database, sign_in};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const PORTS: [u16; 3] = [3211, 3212, 3213];

/// Rendering pages in a debug build needs more than the default stack (see src/main.rs).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build().unwrap()
}

/// A signed-in page, asked for `n` times: every answer is the page (not a
/// sign-in redirect, not an error); which replicas served it.
async fn signed_in_everywhere(client: &reqwest::Client, base: &str, team: &str, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        let res = client.get(format!("{base}/teams/{team}")).send().await.expect("the load balancer answers");
        let by = served_by(&res).unwrap_or_default();
        assert_eq!(res.status(), 200, "{team}'s page from replica {by}");
        assert!(res.text().await.unwrap().contains("Notebook tests"), "the team's page, from replica {by}");
        seen.insert(by);
    }
    seen
}

async fn create_notebook(client: &reqwest::Client, base: &str, team: &Team, name: &str) {
    let body = serde_json::json!({ "form": team.form(name) });
    let res = client.post(format!("{base}/api/notebook-create")).header("Origin", base).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200, "notebook created: {}", res.text().await.unwrap());
}

/// The notebook as the person's list shows it, from whichever replica answers.
async fn listed(client: &reqwest::Client, base: &str, team: &str, name: &str) -> bool {
    for _ in 0..50 {
        let res = client.post(format!("{base}/api/notebooks")).header("Origin", base).form(&[("team", team)]).send().await.unwrap();
        if res.status() == 200 && res.text().await.unwrap().contains(&format!("\"name\":\"{name}\"")) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// (actor, action, outcome) of every audit row of `team`, in order.
async fn audit_rows(database_url: &str, team: &str) -> Vec<(String, String, String)> {
    let pool = sqlx::PgPool::connect(database_url).await.unwrap();
    let rows = sqlx::query_as("SELECT actor, action, outcome FROM audit_events WHERE team = $1 ORDER BY id").bind(team).fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows
}

#[test]
fn people_stay_signed_in_and_nothing_is_lost_when_a_replica_dies_mid_flow() {
    runtime().block_on(async {
        let _port = login_port().await;
        let team = Team::new("it-lb").await;
        let shared = Shared::new(postgres_database("replicas").await, LOGIN_PORT);
        let mut set = Vec::new();
        for port in PORTS {
            set.push(Some(shared.replica(replicas::current(), port).await));
        }
        let lb = LoadBalancer::start(LOGIN_PORT, PORTS).await;
        let base = lb.base.clone();

        // Each step of a sign-in (login, Keycloak's form, the callback) may
        // land on another replica: what one stored, the next one reads.
        let (alice, _) = browser();
        sign_in(&alice, &base, "alice", "/").await;
        let (tom, _) = browser();
        sign_in(&tom, &base, "tom", "/").await;
        assert_eq!(signed_in_everywhere(&alice, &base, &team.name, 6).await.len(), 3, "requests rotate across the three");

        // Alice keeps reading her team's page, several requests at a time ...
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..4 {
            let (alice, base, name, stop) = (alice.clone(), base.clone(), team.name.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let res = alice.get(format!("{base}/teams/{name}")).send().await;
                    answers.push(match res {
                        Ok(res) => (res.status().as_u16(), served_by(&res).unwrap_or_default()),
                        Err(e) => (0, e.to_string()),
                    });
                }
                answers
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // ... when one replica dies without a word (SIGKILL: no draining).
        let mut dead = set[1].take().unwrap();
        dead.child.kill().unwrap();
        dead.child.wait().unwrap();

        // Alice creates a notebook and tom asks for more CPU, meanwhile.
        create_notebook(&alice, &base, &team, "survivor").await;
        let res = tom
            .post(format!("{base}/api/team-quota-request"))
            .header("Origin", &base)
            .form(&[("team", team.name.as_str()), ("resource", "requests.cpu"), ("amount", "64"), ("reason", "The churn model trains on more data.")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "quota request: {}", res.text().await.unwrap());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
        let mut answers = Vec::new();
        for r in readers {
            answers.extend(r.await.unwrap());
        }
        let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
        assert!(failed.is_empty(), "{} of {} page loads failed around the death: {failed:?}", failed.len(), answers.len());
        assert!(answers.len() > 20, "the readers kept reading ({} loads)", answers.len());

        // Both are still signed in, on the two replicas left; the notebook
        // is there for alice, whichever replica lists it.
        assert_eq!(signed_in_everywhere(&alice, &base, &team.name, 6).await, BTreeSet::from(["r1".to_string(), "r3".to_string()]));
        assert_eq!(signed_in_everywhere(&tom, &base, &team.name, 2).await.len(), 2);
        assert!(listed(&alice, &base, &team.name, "survivor").await, "alice's new notebook is listed");

        // The replica comes back (as its pod would be restarted) and takes
        // its share of people already signed in.
        set[1] = Some(shared.replica(replicas::current(), PORTS[1]).await);
        let mut seen = BTreeSet::new();
        for _ in 0..30 {
            seen.extend(signed_in_everywhere(&alice, &base, &team.name, 3).await);
            if seen.contains("r2") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(seen.contains("r2"), "the restarted replica serves alice's session");

        // Every change is in the audit trail once.
        let rows = audit_rows(&shared.database_url, &team.name).await;
        let of = |action: &str| rows.iter().filter(|(_, a, _)| a == action).cloned().collect::<Vec<_>>();
        assert_eq!(of("notebook.create"), vec![("alice".into(), "notebook.create".into(), "succeeded".into())], "{rows:?}");
        assert_eq!(of("quota.request"), vec![("tom".into(), "quota.request".into(), "succeeded".into())], "{rows:?}");
        let pool = sqlx::PgPool::connect(&shared.database_url).await.unwrap();
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM quota_requests WHERE team = $1 AND status = 'pending'").bind(&team.name).fetch_one(&pool).await.unwrap();
        assert_eq!(pending, 1, "tom's request, once");
        drop(lb);
        drop(set);
        team.retire().await;
    });
}

#[test]
fn a_rolling_upgrade_from_the_earlier_release_keeps_people_signed_in() {
    runtime().block_on(async {
        let _port = login_port().await;
        let earlier = replicas::earlier();
        let team = Team::new("it-roll").await;
        let shared = Shared::new(postgres_database("rolling").await, LOGIN_PORT);
        let mut set = Vec::new();
        for port in PORTS {
            set.push(Some(shared.replica(&earlier, port).await));
        }
        let lb = LoadBalancer::start(LOGIN_PORT, PORTS).await;
        let base = lb.base.clone();
        let (alice, _) = browser();
        sign_in(&alice, &base, "alice", "/").await;
        create_notebook(&alice, &base, &team, "before").await;

        // One by one, as a Deployment's rollout does: the new release
        // migrates the database at its start while earlier replicas serve on.
        let (tom, _) = browser();
        for i in 0..PORTS.len() {
            replicas::stop(set[i].take().unwrap());
            set[i] = Some(shared.replica(replicas::current(), PORTS[i]).await);
            let mut seen = BTreeSet::new();
            for _ in 0..20 {
                seen.extend(signed_in_everywhere(&alice, &base, &team.name, 3).await);
                if seen.len() == 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert_eq!(seen.len(), 3, "after rolling replica {}: alice is signed in on old and new replicas alike ({seen:?})", i + 1);
            if i == 0 {
                // Signing in while both releases serve: the steps may cross them.
                sign_in(&tom, &base, "tom", "/").await;
            }
            assert_eq!(signed_in_everywhere(&tom, &base, &team.name, 3).await.len(), 3, "tom, after rolling replica {}", i + 1);
        }
        create_notebook(&alice, &base, &team, "after").await;
        assert!(listed(&alice, &base, &team.name, "before").await && listed(&alice, &base, &team.name, "after").await);
        let rows = audit_rows(&shared.database_url, &team.name).await;
        let creates = rows.iter().filter(|(_, a, o)| a == "notebook.create" && o == "succeeded").count();
        assert_eq!(creates, 2, "both creations audited once, before and after: {rows:?}");
        drop(lb);
        drop(set);
        team.retire().await;
    });
}
