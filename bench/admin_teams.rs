//! The platform admin's team list with many teams: fills the local stack
//! with ATRIUM_BENCH_TEAMS (default 300) team namespaces, each with a quota,
//! then loads /admin as paula and reports response time and API calls per
//! view. Removes the teams it made. Run through `bench/run.sh`.

#[path = "../tests/common/mod.rs"]
mod common;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use std::collections::BTreeMap;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let base = std::env::var("ATRIUM_BENCH_URL").unwrap_or_else(|_| "http://localhost:3101".into());
    let teams: usize = std::env::var("ATRIUM_BENCH_TEAMS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let views: usize = std::env::var("ATRIUM_BENCH_VIEWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let admin = admin_client().await;
    let t = Instant::now();
    fill(&admin, teams).await;
    println!("{teams} bench teams in place ({:.1} s)", t.elapsed().as_secs_f64());

    let (client, _jar) = common::browser();
    common::sign_in(&client, &base, "paula", "/admin").await;
    let html = client.get(format!("{base}/admin")).send().await.unwrap().text().await.unwrap();
    let shown = html.matches("data-testid=\"admin-team-bench-").count();
    assert_eq!(shown, teams, "every bench team is on the page");
    let before = common::kube_calls(&base).await;
    let mut times = Vec::with_capacity(views);
    for _ in 0..views {
        let t = Instant::now();
        let res = client.get(format!("{base}/admin")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        times.push(t.elapsed());
    }
    let calls = common::kube_calls(&base).await - before;
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    println!("/admin with {} teams, {views} sequential views as paula", teams + 2);
    println!("  p50 {:.1} ms   p99 {:.1} ms", pct(0.5), pct(0.99));
    println!("  {:.2} Kubernetes API calls per view", calls as f64 / views as f64);
    clean(&admin).await;
}

async fn admin_client() -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(common::stack("STACK_ADMIN_KUBECONFIG")).unwrap();
    kube::Client::try_from(kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap()).unwrap()
}

async fn fill(admin: &kube::Client, n: usize) {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let creates = (0..n).map(|i| {
        let (namespaces, admin) = (namespaces.clone(), admin.clone());
        async move {
            let name = format!("bench-{i:03}");
            let ns = Namespace {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(app::teams::namespace_labels().into_iter().chain([("atrium.io/bench".into(), "true".into())]).collect()),
                    ..Default::default()
                },
                ..Default::default()
            };
            if namespaces.get_opt(&name).await.unwrap().is_none() {
                namespaces.create(&PostParams::default(), &ns).await.unwrap();
                let quota = ResourceQuota {
                    metadata: ObjectMeta { name: Some("atrium-quota".into()), ..Default::default() },
                    spec: Some(ResourceQuotaSpec {
                        hard: Some(BTreeMap::from([("pods".into(), Quantity("40".into())), ("requests.cpu".into(), Quantity("16".into()))])),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                Api::<ResourceQuota>::namespaced(admin, &name).create(&PostParams::default(), &quota).await.unwrap();
            }
        }
    });
    futures::future::join_all(creates).await;
}

async fn clean(admin: &kube::Client) {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let list = namespaces.list_metadata(&ListParams::default().labels("atrium.io/bench=true")).await.unwrap();
    for ns in list.items {
        let _ = namespaces.delete(&ns.metadata.name.unwrap_or_default(), &DeleteParams::default()).await;
    }
}
