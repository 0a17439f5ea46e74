//! Shared test support: the running local stack (`deploy/local/stack.sh up`),
//! an in-process portal on loopback, and a browserless sign-in through the
//! real Keycloak login form.
#![allow(dead_code)]

use app::config::{Config, KubeIdentity, Secret};
use app::identity::IdentityMapping;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub const PASSWORD: &str = "atrium-demo";

/// What `stack.sh up` wrote to `.stack/stack.env`.
pub fn stack_env() -> &'static HashMap<String, String> {
    static ENV: OnceLock<HashMap<String, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = std::env::var("ATRIUM_STACK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".stack"));
        let text = std::fs::read_to_string(dir.join("stack.env")).unwrap_or_else(|e| {
            panic!("the local stack is not running ({e}); start it with `deploy/local/stack.sh up` or run ./test.sh")
        });
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

pub fn stack(key: &str) -> String {
    stack_env().get(key).cloned().unwrap_or_else(|| panic!("{key} missing from stack.env"))
}

/// A portal configuration on the local stack, with its own SQLite file.
pub fn config(port: u16, db_dir: &tempfile::TempDir) -> Config {
    let mut c = Config::default();
    c.listen = ([127, 0, 0, 1], port).into();
    c.public_url = format!("http://localhost:{port}");
    c.site_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/site");
    c.database_url = format!("sqlite://{}?mode=rwc", db_dir.path().join("atrium.db").display()).into();
    c.kubeconfig = Some(stack("ATRIUM_KUBECONFIG").into());
    c.oidc.issuer_url = stack("ATRIUM_OIDC__ISSUER_URL");
    c.oidc.client_id = stack("ATRIUM_OIDC__CLIENT_ID");
    c.oidc.client_secret = Secret::new(stack("ATRIUM_OIDC__CLIENT_SECRET"));
    c.oidc.ca_file = stack_env().get("ATRIUM_OIDC__CA_FILE").map(PathBuf::from);
    // Token passthrough by default, as the local stack runs; the suite runs
    // once more with ATRIUM_TEST_KUBE_IDENTITY=impersonation.
    if impersonation() {
        c.kubernetes.identity = KubeIdentity::Impersonation;
        c.kubeconfig = Some(stack("STACK_IMPERSONATING_KUBECONFIG").into());
    } else {
        c.kubernetes.identity = KubeIdentity::Passthrough;
    }
    c.identity = IdentityMapping::default();
    // Each test portal culls its own notebooks: a Lease of its own, so a
    // portal of another test cannot hold the culler (tests/singletons.rs
    // shares one between replicas on purpose).
    c.notebooks.culler_lease = unique("test-culler");
    c.mlflow.url = stack_env().get("ATRIUM_MLFLOW__URL").cloned().unwrap_or_default();
    // Likewise its own step-log archiver, when a test gives it the store.
    c.pipelines.log_archive_lease = unique("test-archiver");
    c
}

/// The stack's object store, as the portal is configured with it (tests
/// that follow step logs into the archive opt in with this).
pub fn object_store() -> app::config::ObjectStoreConfig {
    let env = stack_env();
    let get = |k: &str| env.get(k).cloned().unwrap_or_else(|| panic!("{k} is missing from the stack's environment"));
    app::config::ObjectStoreConfig {
        endpoint: get("ATRIUM_OBJECT_STORE__ENDPOINT"),
        bucket: get("ATRIUM_OBJECT_STORE__BUCKET"),
        region: get("ATRIUM_OBJECT_STORE__REGION"),
        access_key_id: get("ATRIUM_OBJECT_STORE__ACCESS_KEY_ID"),
        secret_access_key: Secret::new(get("ATRIUM_OBJECT_STORE__SECRET_ACCESS_KEY")),
    }
}

pub struct Portal {
    pub base: String,
    pub state: app::state::AppState,
    _db: tempfile::TempDir,
    _serve: tokio::task::JoinHandle<()>,
}

/// Starts the portal in-process on `port`. Ports named in Keycloak's
/// redirect URIs (3101) allow a real sign-in; hold [`login_port`] for them.
/// Port 0 picks a free port.
pub async fn start_portal(port: u16, tweak: impl FnOnce(&mut Config)) -> Portal {
    let db = tempfile::tempdir().expect("temp dir");
    let listener = bind(port).await;
    let port = listener.local_addr().expect("bound").port();
    let mut cfg = config(port, &db);
    tweak(&mut cfg);
    let (router, state) = atrium::build(cfg).await.expect("portal builds");
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let serve = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await.expect("serve");
    });
    Portal { base: format!("http://localhost:{port}"), state, _db: db, _serve: serve }
}

/// Binds, waiting briefly for a previous test's server on the same port to
/// finish shutting down (its runtime closes the socket after the test ends).
async fn bind(port: u16) -> tokio::net::TcpListener {
    let mut tries = 0;
    loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return l,
            Err(e) if tries < 50 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("port {port} stays busy: {e}"),
        }
    }
}

/// One test at a time may use the port Keycloak redirects back to.
pub async fn login_port() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
pub const LOGIN_PORT: u16 = 3101;

/// A cookie-keeping HTTP client that does not follow redirects, like a
/// careful browser we can inspect.
pub fn browser() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .dns_resolver(Arc::new(Loopback))
        .tls_built_in_root_certs(true)
        .add_root_certificate(stack_ca())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    (client, jar)
}

/// The local stack's certificate authority (Keycloak's HTTPS certificate).
pub fn stack_ca() -> reqwest::Certificate {
    let pem = std::fs::read(stack("STACK_CA")).expect("the stack's CA (re-run deploy/local/stack.sh up)");
    reqwest::Certificate::from_pem(&pem).expect("a PEM certificate")
}

/// Resolves `localhost` and every `*.localhost` (notebook origins) to
/// 127.0.0.1, as browsers do; other names as the system does.
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = if host == "localhost" || host.ends_with(".localhost") {
                vec![([127, 0, 0, 1], 0).into()]
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string()
}

/// The portal's session cookie, as the jar holds it for `base`.
pub fn session_cookie(jar: &reqwest::cookie::Jar, base: &str) -> Option<String> {
    use reqwest::cookie::CookieStore;
    let header = jar.cookies(&base.parse().unwrap())?;
    header
        .to_str()
        .ok()?
        .split("; ")
        .find_map(|c| c.strip_prefix("atrium_session=").map(str::to_string))
}

/// Signs in through the real Keycloak form; returns the callback URL the
/// provider sent the browser to (to try replaying it).
pub async fn sign_in(client: &reqwest::Client, base: &str, user: &str, next: &str) -> (String, reqwest::Response) {
    let res = client.get(format!("{base}/auth/login?next={next}")).send().await.expect("login");
    assert!(res.status().is_redirection(), "login should redirect, got {}", res.status());
    let form_page = client.get(location(&res)).send().await.expect("keycloak page").text().await.unwrap();
    let action = form_action(&form_page).expect("Keycloak login form");
    let res = client
        .post(action)
        .form(&[("username", user), ("password", PASSWORD), ("credentialId", "")])
        .send()
        .await
        .expect("submit credentials");
    let callback = location(&res);
    assert!(callback.starts_with(&format!("{base}/auth/callback")), "Keycloak did not redirect back: {callback}");
    let res = client.get(&callback).send().await.expect("callback");
    (callback, res)
}

fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("id=\"kc-form-login\"")?..];
    let start = form.find("action=\"")? + "action=\"".len();
    let end = form[start..].find('"')? + start;
    Some(form[start..end].replace("&amp;", "&"))
}

/// Groups as Keycloak puts them in the demo users' tokens.
pub fn groups_of(user: &str) -> Vec<String> {
    let g = match user {
        "alice" => "team-a-data-scientists",
        "dave" => "team-a-data-engineers",
        "maria" => "team-b-ml-engineers",
        "tom" => "team-a-admins",
        "paula" => "platform-admins",
        NO_TEAM_USER => return vec![],
        other => panic!("no demo user {other}"),
    };
    vec![g.to_string()]
}

/// The portal's count of Kubernetes API calls, from `/metrics`.
pub async fn kube_calls(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("atrium_kubernetes_calls_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("metrics")
}

/// Whether this run acts as people by impersonation rather than with their tokens.
pub fn impersonation() -> bool {
    std::env::var("ATRIUM_TEST_KUBE_IDENTITY").is_ok_and(|m| m == "impersonation")
}

/// A Kubernetes client for a person of the local stack, as if signed in:
/// demo people through the portal's gateway (with their own Keycloak access
/// token under passthrough); made-up `it-…` people, who have no Keycloak
/// account, by impersonation with the cluster admin's identity.
pub async fn as_user(user: &str) -> app::platform::kube::UserClient {
    let db = tempfile::tempdir().unwrap();
    if user.starts_with("it-") {
        let mut c = config(0, &db);
        c.kubeconfig = Some(stack("STACK_ADMIN_KUBECONFIG").into());
        c.kubernetes.identity = KubeIdentity::Impersonation;
        let gateway = app::platform::kube::KubeGateway::new(&c).await.unwrap();
        return gateway.for_user(&signed_in(user, vec![])).unwrap();
    }
    let gateway = app::platform::kube::KubeGateway::new(&config(0, &db)).await.unwrap();
    gateway.for_user(&person(user).await).unwrap()
}

/// A demo person as a portal session holds them, with a real access token
/// from Keycloak (the stack's test client) unless impersonating.
pub async fn person(user: &str) -> app::auth::SignedIn {
    let who = signed_in(user, groups_of(user));
    if impersonation() {
        return who;
    }
    let identity = who.identity().clone();
    app::auth::SignedIn::for_test_with_token(identity, access_token(user).await)
}

/// An access token for a demo user from Keycloak's test client (direct
/// access grants; the portal itself signs people in with the code flow).
/// Reused for a few minutes: Keycloak's tokens here last five.
pub async fn access_token(user: &str) -> String {
    static TOKENS: std::sync::Mutex<Vec<(String, std::time::Instant, String)>> = std::sync::Mutex::new(Vec::new());
    if let Some((_, _, t)) = TOKENS.lock().unwrap().iter().find(|(u, at, _)| u == user && at.elapsed().as_secs() < 200) {
        return t.clone();
    }
    let http = reqwest::Client::builder().add_root_certificate(stack_ca()).build().unwrap();
    let issuer = stack("ATRIUM_OIDC__ISSUER_URL");
    let form = [
        ("grant_type", "password"),
        ("client_id", "atrium-tests"),
        ("client_secret", "atrium-tests-secret"),
        ("username", user),
        ("password", PASSWORD),
        ("scope", "openid profile email"),
    ];
    let res = http.post(format!("{issuer}/protocol/openid-connect/token")).form(&form).send().await;
    let body: serde_json::Value = res.and_then(reqwest::Response::error_for_status).expect("Keycloak issues a token").json().await.unwrap();
    let token = body["access_token"].as_str().expect("an access token").to_string();
    TOKENS.lock().unwrap().push((user.to_string(), std::time::Instant::now(), token.clone()));
    token
}

pub fn signed_in(user: &str, groups: Vec<String>) -> app::auth::SignedIn {
    app::auth::SignedIn::for_test(app::auth::Identity {
        subject: user.into(),
        username: user.into(),
        display_name: user.into(),
        email: None,
        memberships: IdentityMapping::default().memberships(&groups),
        groups,
    })
}

/// The stack's cluster admin (for what a controller would do, and clean-up).
pub async fn cluster_admin() -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(stack("STACK_ADMIN_KUBECONFIG")).unwrap();
    kube::Client::try_from(kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap()).unwrap()
}

/// A name no other run uses.
pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000;
    format!("{prefix}-{n}")
}
pub mod notebooks;

/// A pod that Pod Security `restricted` (every team's level) admits.
pub fn restricted_pod(name: &str) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "main",
                "image": "busybox",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
            }]
        }
    }))
    .expect("a valid pod")
}

/// The demo user without a team (`deploy/local/keycloak/atrium-realm.json`).
pub const NO_TEAM_USER: &str = "nora";

/// Makes sure Keycloak knows [`NO_TEAM_USER`]: a Keycloak that imported the
/// realm before she was added to it gets her through the admin REST API
/// (the local stack's bootstrap admin, `admin`/`admin`).
pub async fn ensure_no_team_user() {
    let admin = keycloak::KeycloakAdmin::connect().await;
    let found = admin.get(&format!("/users?username={NO_TEAM_USER}&exact=true")).await;
    if found.as_array().is_some_and(|f| !f.is_empty()) {
        return;
    }
    let user = serde_json::json!({
        "username": NO_TEAM_USER, "enabled": true, "firstName": "Nora", "lastName": "Newcomer",
        "email": "nora@atrium.example", "emailVerified": true,
        "credentials": [{"type": "password", "value": PASSWORD, "temporary": false}]
    });
    // 409: another test made her meanwhile.
    let status = admin.post("/users", user).await;
    assert!(status.is_success() || status == 409, "Keycloak refused {NO_TEAM_USER}: {status}");
}

pub mod forwarder;
pub mod keycloak;
pub mod replicas;

/// A database of its own on the test PostgreSQL (`./test.sh` starts it), for
/// a test whose portals share one; its URL.
pub async fn postgres_database(prefix: &str) -> String {
    use sqlx::Connection;
    let url = std::env::var("ATRIUM_TEST_POSTGRES_URL").expect("ATRIUM_TEST_POSTGRES_URL must name a PostgreSQL database (./test.sh starts one)");
    let name = unique(prefix).replace('-', "_");
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("PostgreSQL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    format!("{}/{name}", url.rsplit_once('/').expect("a database URL").0)
}

/// Starts another portal process on `port` sharing `first`'s database, as a
/// second replica would: a session made on one is good on the other (the
/// browser sends a host's cookies to every port of it).
pub async fn start_replica(port: u16, first: &Portal, tweak: impl FnOnce(&mut Config)) -> Portal {
    let database_url = first.state.config.database_url.clone();
    start_portal(port, move |c| {
        tweak(c);
        c.database_url = database_url;
    })
    .await
}

/// The real `atrium` binary on the local stack, started on `port` with the
/// stack's settings and `extra` ones; killed when dropped, so a failed test
/// leaves no portal behind on the port.
pub struct Binary {
    pub child: std::process::Child,
    pub base: String,
    _db: tempfile::TempDir,
}

impl Binary {
    pub async fn start(port: u16, extra: &[(&str, &str)], stdout: std::process::Stdio) -> Binary {
        Binary::start_exe(std::path::Path::new(env!("CARGO_BIN_EXE_atrium")), port, extra, stdout).await
    }

    /// Like [`Binary::start`], with another build of the portal (an earlier release).
    pub async fn start_exe(exe: &std::path::Path, port: u16, extra: &[(&str, &str)], stdout: std::process::Stdio) -> Binary {
        let db = tempfile::tempdir().unwrap();
        let base = format!("http://localhost:{port}");
        let mut child = std::process::Command::new(exe)
            .envs(stack_env().iter().filter(|(k, _)| k.starts_with("ATRIUM_")))
            .env("ATRIUM_LISTEN", format!("127.0.0.1:{port}"))
            .env("ATRIUM_PUBLIC_URL", &base)
            .env("ATRIUM_DATABASE_URL", format!("sqlite://{}?mode=rwc", db.path().join("atrium.db").display()))
            .env("ATRIUM_NOTEBOOKS__CULLER_LEASE", unique("it-binary"))
            .env("ATRIUM_LOG_FORMAT", "json")
            .envs(extra.iter().copied())
            .stdout(stdout)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the atrium binary starts");
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the portal exited at start ({status}); is port {port} busy?");
            }
            if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "the portal did not become ready");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Binary { child, base, _db: db }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bench's own team (benches, not tests, use these): a team namespace
/// labelled as a bench's, with `user` (as the API server names them) bound
/// to the persona ClusterRole `role`, e.g. `atrium-data-engineer`. Waits
/// first until an earlier run's namespace of that name is gone.
pub async fn bench_team(admin: &kube::Client, team: &str, user: &str, role: &str) {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
    use kube::api::{Api, ObjectMeta, PostParams};
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let mut waited = 0;
    while namespaces.get_opt(team).await.unwrap().is_some() {
        assert!(waited < 600, "an earlier run's bench team {team} is still being deleted");
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let mut labels = app::teams::namespace_labels();
    labels.insert("atrium.io/bench".into(), "true".into());
    let ns = Namespace { metadata: ObjectMeta { name: Some(team.into()), labels: Some(labels), ..Default::default() }, ..Default::default() };
    namespaces.create(&PostParams::default(), &ns).await.unwrap();
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("member-{}", user.rsplit(':').next().unwrap_or(user))),
            labels: Some([("atrium.io/member".to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        role_ref: RoleRef { api_group: Some("rbac.authorization.k8s.io".into()), kind: "ClusterRole".into(), name: role.into() },
        subjects: Some(vec![Subject { kind: "User".into(), name: user.into(), api_group: Some("rbac.authorization.k8s.io".into()), ..Default::default() }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), team).create(&PostParams::default(), &binding).await.unwrap();
}
