//! The Helm chart (`deploy/chart/atrium`, decision 0014) against the real
//! local API server: `helm lint`, the rendered chart through server-side
//! dry-run, a real `helm install` into a fresh namespace with every object
//! admitted, one of the release's own admission policies refusing a request,
//! and `helm uninstall`. Every setting the chart hands the portal must be one
//! `app::config::Config` reads.
//!
//! Needs Helm (`scripts/helm.sh` builds it once; `./test.sh` does) and the
//! local stack (`deploy/local/stack.sh up`). Pods are not waited for: kwok
//! only pretends to run them.

mod common;

use app::config::{Config, KubeIdentity};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHART: &str = "deploy/chart/atrium";
/// Every optional part on: impersonation, ingress, bundled PostgreSQL.
const FULL_VALUES: &str = "deploy/chart/atrium/ci/full-values.yaml";
/// A platform-admin group only FULL_VALUES names: the local stack's own
/// bindings and fence know `platform-admins` alone, so what this group may
/// do, and is refused, comes from the release under test.
const RELEASE_ONLY_ADMINS: &str = "oidc:ml-platform-operators";

#[test]
fn chart_lints_with_default_and_full_values() {
    helm(&["lint", CHART, "--strict"]).expect("helm lint with the default values");
    helm(&["lint", CHART, "--strict", "-f", FULL_VALUES]).expect("helm lint with every optional part on");
    // The schema and the templates refuse what the portal would not run with.
    let err = helm(&["lint", CHART, "--set", "kubernetes.identity=both"]).unwrap_err();
    assert!(err.contains("kubernetes") && err.contains("identity"), "{err}");
    let err = helm(&["template", "atrium", CHART, "--set", "models.artifactsUri=/var/mlflow"]).unwrap_err();
    assert!(err.contains("/models/artifactsUri"), "model servers read artifacts from object storage: {err}");
    let err = helm(&["template", "atrium", CHART, "--set", "notebooks.origin=https://nb.example.net/{team}/{name}"]).unwrap_err();
    assert!(err.contains("/notebooks/origin"), "a notebook origin has no path: {err}");
    // The portal takes this one, but no wildcard host covers two labels.
    let err = helm(&["template", "atrium", CHART, "--set", "ingress.enabled=true", "--set", "notebooks.origin=https://{team}.{name}.nb.example.net"]).unwrap_err();
    assert!(err.contains("notebooks.origin: a wildcard host covers one DNS label"), "{err}");
}

#[test]
fn default_values_pass_server_side_dry_run_with_settings_the_portal_reads() {
    let manifest = helm(&["template", "atrium", CHART, "--namespace", "default"]).expect("helm template");
    let objects = dry_run(&manifest);
    assert_eq!(objects.len(), documents(&manifest), "every rendered object is admitted");

    let deployment = find(&objects, "Deployment", "atrium");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"]["spec"];
    let portal = &pod["containers"][0];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(portal["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(portal["ports"][0]["containerPort"], 8080);
    assert_eq!(portal["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(portal["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(pod["affinity"]["podAntiAffinity"].is_object(), "replicas prefer different nodes");

    // Passthrough by default: the portal's identity may not impersonate,
    // and nothing optional is rendered.
    for absent in ["atrium-portal-impersonate", "atrium-postgresql"] {
        assert!(objects.iter().all(|o| o["metadata"]["name"] != absent), "{absent} rendered by default");
    }
    assert!(objects.iter().all(|o| o["kind"] != "Ingress"));
    let config = portal_config(&objects, "atrium");
    assert_eq!(config.kubernetes.identity, KubeIdentity::Passthrough);
    assert_eq!(config.notebooks.portal_namespace, "default", "the catalog lives in the release's namespace");
}

#[test]
fn installs_into_a_fresh_namespace_and_its_fence_refuses() {
    let release = Release::new(common::unique("atrium-helmtest"));
    let name = release.name.as_str();
    let manifest = helm(&["template", name, CHART, "--namespace", name, "-f", FULL_VALUES]).expect("helm template");
    let rendered = dry_run(&manifest);
    assert_eq!(rendered.len(), documents(&manifest), "every rendered object passes server-side dry-run");
    let config = portal_config(&rendered, name);
    assert_eq!(config.kubernetes.identity, KubeIdentity::Impersonation);
    assert!(config.identity.platform_admin_groups.contains(&"ml-platform-operators".to_string()));
    for kind in ["Ingress", "StatefulSet", "ValidatingAdmissionPolicy"] {
        assert!(rendered.iter().any(|o| o["kind"] == kind), "no {kind} rendered");
    }
    assert!(rendered.iter().any(|o| o["metadata"]["name"] == format!("{name}-portal-impersonate")));

    release.install();
    let installed = release.helm(&["get", "manifest"]).expect("helm get manifest");
    let found = list(kubectl(&["get", "-o", "json", "-f", "-"], Some(&installed)).expect("every object of the release exists"));
    assert_eq!(keys(&found), keys(&rendered), "the cluster holds exactly what was rendered");

    release_fence_refuses(name);
    release.helm(&["uninstall"]).expect("helm uninstall");
    for gone in [format!("clusterrole/{name}-portal"), format!("validatingadmissionpolicy/{name}-platform-admin-fence")] {
        let err = kubectl(&["get", gone.as_str()], None).expect_err("uninstall removes cluster-wide objects");
        assert!(err.contains("NotFound"), "{gone}: {err}");
    }
}

/// As a member of [`RELEASE_ONLY_ADMINS`]: the release's binding grants the
/// platform-admin persona (a RoleBinding in a team passes), and the
/// release's fence refuses one outside team namespaces. Policies and
/// bindings take a moment to reach the API server's caches: asked again for
/// a few seconds.
fn release_fence_refuses(release: &str) {
    let persona = format!("--clusterrole={release}-data-scientist");
    let group = format!("--as-group={RELEASE_ONLY_ADMINS}");
    let bind_in = |ns: &str| {
        let args = ["create", "rolebinding", "helm-chart-test", persona.as_str(), "--group=oidc:someone", "-n", ns];
        kubectl(&[&args[..], &["--dry-run=server", "--as=helm-chart-operator", group.as_str()]].concat(), None)
    };
    eventually(|| bind_in("team-a").map(drop), "the release's platform admins bind a team persona in a team");
    let fence = format!("ValidatingAdmissionPolicy '{release}-platform-admin-fence'");
    eventually(
        || match bind_in(release) {
            Err(e) if e.contains(&fence) && e.contains("in team namespaces only") => Ok(()),
            other => Err(format!("{other:?}")),
        },
        "the release's fence refuses a RoleBinding outside team namespaces",
    );
}

/// A release of the chart in a namespace of its own; uninstalled and its
/// namespace deleted when dropped, whatever the test's outcome.
struct Release {
    name: String,
}

impl Release {
    fn new(name: String) -> Release {
        kubectl(&["create", "namespace", &name], None).expect("a fresh namespace");
        let release = Release { name };
        // What FULL_VALUES names and the operator provides.
        let ns = release.name.as_str();
        kubectl(&["create", "secret", "generic", "atrium-oidc", "--from-literal=client-secret=s3cr3t", "-n", ns], None).unwrap();
        let ca = std::fs::read_to_string(common::stack("STACK_CA")).expect("the stack's CA");
        kubectl(&["create", "configmap", "atrium-oidc-ca", &format!("--from-literal=ca.crt={ca}"), "-n", ns], None).unwrap();
        release
    }

    /// helm SUBCOMMAND… RELEASE, in the release's namespace, on the local stack.
    fn helm(&self, subcommand: &[&str]) -> Result<String, String> {
        let kubeconfig = common::stack("STACK_ADMIN_KUBECONFIG");
        let name = self.name.as_str();
        helm(&[subcommand, &[name, "--namespace", name, "--kubeconfig", kubeconfig.as_str()]].concat())
    }

    fn install(&self) {
        let kubeconfig = common::stack("STACK_ADMIN_KUBECONFIG");
        let name = self.name.as_str();
        helm(&["install", name, CHART, "--namespace", name, "-f", FULL_VALUES, "--kubeconfig", kubeconfig.as_str()]).expect("helm install");
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = self.helm(&["uninstall", "--ignore-not-found"]);
        let _ = kubectl(&["delete", "namespace", &self.name, "--wait=false", "--ignore-not-found"], None);
    }
}

/// The portal's configuration as the chart sets it: the ConfigMap's
/// variables and the container's own, each read as figment reads the
/// environment (app/src/config.rs) into a setting `Config` has. A name the
/// portal does not read, or a value it cannot parse, fails here.
fn portal_config(objects: &[Value], fullname: &str) -> Config {
    let config_map = find(objects, "ConfigMap", &format!("{fullname}-config"));
    let mut env: Vec<(String, String)> = config_map["data"]
        .as_object()
        .expect("data")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("text").to_string()))
        .collect();
    let container = &find(objects, "Deployment", fullname)["spec"]["template"]["spec"]["containers"][0];
    for var in container["env"].as_array().into_iter().flatten() {
        // Secrets are referenced, not rendered: any URL stands in.
        let value = var["value"].as_str().unwrap_or("postgres://from-a-secret/atrium");
        env.push((var["name"].as_str().unwrap().to_string(), value.to_string()));
    }
    let mut tree = serde_json::to_value(Config::default()).unwrap();
    for (name, value) in env {
        let path = name.strip_prefix("ATRIUM_").unwrap_or_else(|| panic!("{name} is not a portal setting")).to_lowercase();
        let slot = path
            .split("__")
            .try_fold(&mut tree, |node, key| node.get_mut(key))
            .unwrap_or_else(|| panic!("{name}: app/src/config.rs has no such setting"));
        *slot = env_value(&value);
    }
    let config: Config = serde_json::from_value(tree).unwrap_or_else(|e| panic!("the chart's settings do not fit Config: {e}"));
    let origins = config.notebook_origins().expect("a notebook origin pattern");
    app::notebooks::origin::check_apart(&origins, &config.public_url).expect("notebooks on another site");
    config
}

/// A variable's value as figment's `Env` reads it
/// (`figment::value::Value::from_str`): true or false, a number, an array
/// (the chart writes arrays as JSON), else the text itself.
fn env_value(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if text.starts_with('[') {
        return serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: not an array figment reads: {e}"));
    }
    if let Ok(n) = text.parse::<u64>() {
        return n.into();
    }
    match text.parse::<f64>() {
        Ok(f) if text.contains('.') => f.into(),
        _ => Value::String(text.to_string()),
    }
}

/// The manifest applied with `--dry-run=server`: the objects as the API
/// server would store them, after validation and admission.
fn dry_run(manifest: &str) -> Vec<Value> {
    list(kubectl(&["apply", "--dry-run=server", "-o", "json", "-f", "-"], Some(manifest)).expect("server-side dry-run"))
}

fn list(json: String) -> Vec<Value> {
    let value: Value = serde_json::from_str(&json).expect("kubectl's JSON");
    match value["kind"].as_str() {
        Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
        _ => vec![value],
    }
}

/// How many objects a rendered manifest holds.
fn documents(manifest: &str) -> usize {
    manifest.split("\n---").filter(|doc| doc.lines().any(|l| l.starts_with("kind:"))).count()
}

fn keys(objects: &[Value]) -> std::collections::BTreeSet<String> {
    objects.iter().map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap())).collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn eventually(mut check: impl FnMut() -> Result<(), String>, what: &str) {
    let start = Instant::now();
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if start.elapsed() > Duration::from_secs(15) => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Helm where `scripts/helm.sh` builds it: `$ATRIUM_CACHE/bin/helm-<HELM_VERSION>/helm`.
fn helm_binary() -> PathBuf {
    let versions = std::fs::read_to_string(repo().join("deploy/local/versions.env")).expect("deploy/local/versions.env");
    let version = versions.lines().find_map(|l| l.strip_prefix("HELM_VERSION=")).expect("HELM_VERSION in versions.env");
    let cache = std::env::var_os("ATRIUM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/atrium"));
    let path = cache.join(format!("bin/helm-{version}/helm"));
    assert!(path.is_file(), "helm {version} is not built (no {}): run scripts/helm.sh (./test.sh does)", path.display());
    path
}

fn helm(args: &[&str]) -> Result<String, String> {
    run(Command::new(helm_binary()).args(args).current_dir(repo()), None)
}

/// kubectl as the local stack's cluster admin.
fn kubectl(args: &[&str], input: Option<&str>) -> Result<String, String> {
    let kubeconfig = format!("--kubeconfig={}", common::stack("STACK_ADMIN_KUBECONFIG"));
    run(Command::new(common::stack("STACK_BIN")).arg("kubectl").arg(kubeconfig).args(args), input)
}

/// Standard output, or everything the command said when it fails (helm lint
/// reports on standard output).
fn run(command: &mut Command, input: Option<&str>) -> Result<String, String> {
    let mut child = command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if let Some(text) = input {
        child.stdin.take().unwrap().write_all(text.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("the command ends");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

#[test]
fn monitoring_is_optional_and_its_dashboard_reads_only_what_the_portal_exports() {
    use app::platform::metrics::{OpenStream, Scraped, encode, metrics};
    let plain = helm(&["template", "atrium", CHART]).expect("helm template");
    assert!(!plain.contains("kind: ServiceMonitor") && !plain.contains("atrium-dashboard"), "off unless asked for");
    let manifest = helm(&[
        "template", "atrium", CHART,
        "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.labels.release=prometheus",
        "--set", "metrics.grafanaDashboard.enabled=true",
        "--show-only", "templates/monitoring/servicemonitor.yaml", "--show-only", "templates/monitoring/grafana-dashboard.yaml",
    ])
    .expect("helm template with monitoring on");
    assert!(manifest.contains("kind: ServiceMonitor") && manifest.contains("path: /metrics") && manifest.contains("- port: http"), "{manifest}");
    assert!(manifest.contains("release: prometheus"), "the labels Prometheus selects by: {manifest}");
    assert!(manifest.contains("grafana_dashboard: \"1\"") && manifest.contains("\"uid\": \"atrium-portal\""), "{manifest}");
    let err = helm(&["template", "atrium", CHART, "--set", "metrics.serviceMonitor.interval=often"]).unwrap_err();
    assert!(err.contains("interval"), "{err}");

    // Every series a panel asks for is one the portal exports.
    metrics().request("GET", "/".into(), 200, Duration::from_millis(1));
    metrics().kube(&http::Method::GET, &"/api/v1/namespaces/t/pods".parse().unwrap(), Some(200), Duration::from_millis(1));
    metrics().mlflow("runs/search", Some(200));
    let _stream = OpenStream::new();
    let text = encode(&Scraped { sessions: Some(1), ..Default::default() });
    let exported: std::collections::BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect();
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(repo().join(CHART).join("files/grafana-dashboard.json")).unwrap()).unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("atrium_") {
                let name: String = expr[at..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
                assert!(exported.contains(&name), "panel “{}” reads {name}, which /metrics does not export: {exported:?}", panel["title"]);
                asked += 1;
            }
        }
    }
    assert!(asked >= 10, "the panels read the portal's series");
}
