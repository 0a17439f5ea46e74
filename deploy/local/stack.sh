#!/usr/bin/env bash
# Atrium's local stack: a real Kubernetes control plane built from Go modules
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), kwok for
# simulated nodes, and Keycloak with the demo realm (over HTTPS with the
# stack's CA, so the API server can trust it as a JWT issuer), with the
# chart's RBAC and admission policies applied, a real MLflow tracking
# server from PyPI with workspaces (one per team), and Argo Workflows' real
# workflow-controller (cluster-wide; kwok completes its step pods, and its
# kubelet endpoint serves their logs), and MinIO as the S3 object store (a
# bucket for the portal's log archive, and a bucket, a user and a data
# connection per team), and KServe's real controller in Standard (raw
# Deployment) mode, with its admission webhooks served over HTTPS with the
# stack's CA. Everything on loopback, but for Argo's health port (6060, fixed)
# and KServe's webhook port (no flag for its address), on all interfaces.
#
#   deploy/local/stack.sh up       build what is missing, start, bootstrap (idempotent)
#   deploy/local/stack.sh down     stop every process of the stack
#   deploy/local/stack.sh status   what runs
#   deploy/local/stack.sh reset    down, then forget all state (cluster data, Keycloak data, buckets)
#
# State lives in $ATRIUM_STACK_DIR (default: <checkout>/.stack); built binaries
# and downloads in $ATRIUM_CACHE (default: ~/.cache/atrium), keyed by version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.env"
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
state=${ATRIUM_STACK_DIR:-$repo/.stack}
etcd_port=${ATRIUM_ETCD_PORT:-23790}
api_port=${ATRIUM_APISERVER_PORT:-16443}
kc_port=${ATRIUM_KEYCLOAK_PORT:-18443}
mlflow_port=${ATRIUM_MLFLOW_PORT:-15000}
kubelet_port=${ATRIUM_KWOK_KUBELET_PORT:-16250}
minio_port=${ATRIUM_MINIO_PORT:-19000}
minio_console_port=${ATRIUM_MINIO_CONSOLE_PORT:-19001}
kserve_webhook_port=${ATRIUM_KSERVE_WEBHOOK_PORT:-19443}
kserve_health_port=${ATRIUM_KSERVE_HEALTH_PORT:-19081}
kserve_metrics_port=${ATRIUM_KSERVE_METRICS_PORT:-19080}
issuer="https://localhost:$kc_port/realms/atrium"
java_home=${ATRIUM_KEYCLOAK_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
pki="$state/pki"
logs="$state/logs"
run="$state/run"
# MinIO's root password and its users' secret keys, one file each.
keys="$state/minio-keys"
s3_endpoint="http://127.0.0.1:$minio_port"
# MLflow's artifacts, every workspace under workspaces/<team>/.
mlflow_bucket=atrium-mlflow
s3_region=us-east-1
s3_root_user=atrium-root

say() { printf '[stack] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

# start NAME CMD... — runs CMD in its own session, logging to $logs/NAME.log.
start() {
  local name=$1; shift
  # Running with the same command line: keep it; a changed one restarts it.
  if alive "$name" && [ "$(cat "$run/$name.cmd" 2>/dev/null)" = "$*" ]; then return 0; fi
  stop "$name"
  say "starting $name"
  setsid "$@" >"$logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$run/$name.pid"
  echo "$*" >"$run/$name.cmd"
}

# wait_for NAME SECONDS CMD... — polls CMD until it succeeds.
wait_for() {
  local name=$1 secs=$2; shift 2
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then tail -n 30 "$logs/$name.log" >&2 || true; die "$name exited"; fi
    if (( SECONDS - t0 > secs )); then tail -n 30 "$logs/$name.log" >&2 || true; die "$name not ready after ${secs}s"; fi
    sleep 0.5
  done
  say "$name ready ($(( SECONDS - t0 ))s)"
}

cert() { # cert NAME CN [O] [SAN] — a certificate signed by the local CA.
  local name=$1 cn=$2 org=${3:-} san=${4:-}
  [ -f "$pki/$name.crt" ] && return 0
  local subj="/CN=$cn"; [ -n "$org" ] && subj="/O=$org$subj"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  local ext="$pki/$name.ext"
  if [ -n "$san" ]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" >"$ext"
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}

kubeconfig() { # kubeconfig NAME — $state/NAME.kubeconfig for the client cert NAME.
  local name=$1
  cat >"$state/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: atrium-local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 <"$pki/$name.crt")
    client-key-data: $(base64 -w0 <"$pki/$name.key")
contexts:
- name: atrium-local
  context: {cluster: atrium-local, user: $name}
current-context: atrium-local
EOF
}

make_pki() {
  mkdir -p "$pki"
  if [ ! -f "$pki/ca.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" \
      -days 3650 -subj "/CN=atrium-local-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  fi
  cert apiserver kube-apiserver "" "IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default.svc"
  cert admin atrium-admin system:masters
  cert portal atrium-portal
  cert portal-impersonating atrium-portal-impersonating
  cert controller-manager system:kube-controller-manager
  cert scheduler system:kube-scheduler
  cert keycloak localhost "" "DNS:localhost,IP:127.0.0.1"
  # Argo's workflow-controller, as the ServiceAccount its own RBAC names (and
  # a `system:` user, as the team fence wants of whoever makes a team's pods).
  cert argo-controller system:serviceaccount:argo:argo
  # KServe's controller, as the ServiceAccount its own RBAC names, and the
  # certificate its webhook server presents (the API server calls it by IP).
  cert kserve-controller system:serviceaccount:kserve:kserve-controller-manager
  cert kserve-webhook localhost "" "IP:127.0.0.1,DNS:localhost"
  [ -f "$pki/sa.key" ] || openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  [ -f "$pki/sa.pub" ] || openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  for n in admin portal portal-impersonating controller-manager scheduler argo-controller kserve-controller; do kubeconfig "$n"; done
}

# The chart (deploy/chart/atrium) is the one source of the persona
# ClusterRoles, the portal's RBAC and the admission policies: the stack
# applies them as `helm template` renders them for release `atrium` in
# namespace `atrium` (decision 0014), not the portal's Deployment.
render_chart_rbac() {
  local helm; helm=$("$repo/scripts/helm.sh")
  local t=templates
  "$helm" template atrium "$repo/deploy/chart/atrium" --namespace atrium \
    -f "$here/chart-values.yaml" \
    --show-only $t/portal/serviceaccount.yaml --show-only $t/rbac/portal.yaml \
    --show-only $t/rbac/catalog.yaml --show-only $t/rbac/personas.yaml \
    --show-only $t/rbac/platform-admins.yaml --show-only $t/rbac/impersonation.yaml \
    --show-only $t/policies/team-fence.yaml --show-only $t/policies/quota-ceiling.yaml \
    --show-only $t/policies/platform-admin-fence.yaml --show-only $t/policies/promotion-approval.yaml >"$state/chart-rbac.yaml"
}

keycloak_home() { echo "$state/keycloak-$KEYCLOAK_VERSION"; }

# module_dir MODULE@VERSION — the Go module's files (downloaded once into the
# module cache), for the manifests it ships: CRDs and RBAC are applied from
# there rather than from copies in this repository.
module_dir() {
  (cd "$cache" && go mod download -json "$1") | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

# The API server trusts Keycloak's tokens (structured authentication): the
# username is `oidc:` + preferred_username, groups are `oidc:` + groups, and
# tokens must be meant for the portal's client.
write_authentication_config() {
  cat >"$state/authentication.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: $issuer
    audiences: [atrium-portal]
    certificateAuthority: |
$(sed 's/^/      /' "$pki/ca.crt")
  claimMappings:
    username: {claim: preferred_username, prefix: "oidc:"}
    groups: {claim: groups, prefix: "oidc:"}
EOF
}

install_keycloak() {
  local zip="$cache/keycloak/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
  if [ ! -f "$zip" ]; then
    say "downloading Keycloak $KEYCLOAK_VERSION from Maven Central"
    mvn -q dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
      -DoutputDirectory="$cache/keycloak"
  fi
  local home; home=$(keycloak_home)
  if [ ! -x "$home/bin/kc.sh" ]; then
    rm -rf "$state/kc-unpack" && mkdir -p "$state/kc-unpack"
    unzip -q "$zip" -d "$state/kc-unpack"
    mv "$state/kc-unpack"/keycloak-* "$home" && rmdir "$state/kc-unpack"
  fi
  # The realm is imported once; a changed realm file means a fresh Keycloak database.
  local realm="$here/keycloak/atrium-realm.json" sum
  sum=$(sha256sum "$realm" | cut -d' ' -f1)
  if [ "$(cat "$home/data/realm.sha256" 2>/dev/null)" != "$sum" ]; then
    rm -rf "$home/data/h2"
    mkdir -p "$home/data/import"
    cp "$realm" "$home/data/import/atrium-realm.json"
    echo "$sum" >"$home/data/realm.sha256"
  fi
}

# Whether the API server accepts a Keycloak access token (the tests' client).
trusts_keycloak() {
  local token
  token=$(curl -sf --cacert "$pki/ca.crt" "$issuer/protocol/openid-connect/token" \
    -d grant_type=password -d client_id=atrium-tests -d client_secret=atrium-tests-secret \
    -d username=alice -d password=atrium-demo -d scope=openid |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || return 1
  curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}' \
    "https://127.0.0.1:$api_port/apis/authentication.k8s.io/v1/selfsubjectreviews" | grep -q '"oidc:alice"'
}

# make_key NAME — a random secret (40 hex digits) in $keys/NAME, made once,
# readable by its owner only.
make_key() {
  [ -s "$keys/$1" ] || (umask 077 && od -An -tx1 -N20 /dev/urandom | tr -d ' \n' >"$keys/$1")
}

minio_py() { echo "$cache/minio-py-$MINIO_PY_VERSION"; }

# MinIO's users and policies exist only through its admin API: the PyPI
# package `minio` has a client for it (mc would be another Go build).
install_minio_py() {
  local venv; venv=$(minio_py)
  if [ ! -f "$venv/.complete" ]; then
    say "installing the PyPI package minio $MINIO_PY_VERSION (once, a few seconds)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "minio==$MINIO_PY_VERSION"
    touch "$venv/.complete"
  fi
}

# MinIO's buckets, users and policies, and each team's data connection (a
# Secret `object-storage`), all made again on every `up`: provision.py leaves
# alone what is already so. The teams are the namespaces bootstrap/ makes with
# the team label, not those the tests make. Uses up()'s kubectl.
provision_minio() {
  local t0=$SECONDS teams t
  teams=$(kubectl get -f "$here/bootstrap/" \
    -o jsonpath='{range .items[?(@.metadata.labels.atrium\.io/team=="true")]}{.metadata.name}{" "}{end}')
  for t in atrium-portal $teams; do make_key "$t"; done
  # Server-side apply: a client-side apply would copy the keys into an
  # annotation, which anyone listing the Secrets' metadata could read.
  # shellcheck disable=SC2086 # $teams: one word each.
  MINIO_ROOT_USER=$s3_root_user MINIO_ROOT_PASSWORD=$(cat "$keys/root") \
    "$(minio_py)/bin/python" "$here/minio/provision.py" "$s3_endpoint" "$s3_region" "$keys" \
    atrium-portal atrium-logs "$mlflow_bucket" $teams |
    kubectl apply --server-side --force-conflicts --field-manager=atrium-stack -f - >>"$logs/bootstrap.log"
  say "minio provisioned: buckets atrium-logs, $mlflow_bucket and ${teams% } ($(( SECONDS - t0 ))s)"
}

up() {
  mkdir -p "$logs" "$run"
  mkdir -p -m 700 "$keys"
  local bin; bin=$("$here/build-controlplane.sh" | tail -n 1)
  local kwok="$cache/bin/kwok-$KWOK_VERSION/kwok"
  local argo="$cache/bin/argo-$ARGO_VERSION/workflow-controller"
  local minio="$cache/bin/minio-$MINIO_VERSION/minio"
  local kserve; kserve=$(bash "$here/kserve/build.sh" | tail -n 1)
  make_pki
  install_keycloak
  bash "$repo/scripts/mlflow.sh" install
  install_minio_py
  local kc; kc=$(keycloak_home)
  write_authentication_config
  render_chart_rbac
  # Keycloak starts slowest: start it first, wait for it last.
  start keycloak env JAVA_HOME="$java_home" PATH="$java_home/bin:$PATH" \
    KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
    JAVA_OPTS_KC_HEAP="-Xms128m -Xmx768m -XX:MaxMetaspaceSize=256m" \
    "$kc/bin/kc.sh" start-dev --http-enabled=false --http-host=127.0.0.1 --https-port="$kc_port" \
    --https-certificate-file="$pki/keycloak.crt" --https-certificate-key-file="$pki/keycloak.key" \
    --hostname="https://localhost:$kc_port" --import-realm --health-enabled=false
  # MLflow, with one workspace per team (the portal makes them). Never exposed:
  # the portal is its only client (docs/decisions/0015-experiments-mlflow.md).
  mkdir -p "$state/mlflow"
  # MLflow never refreshes SQLite's planner statistics; without them sorting
  # runs by a metric takes seconds (bench/experiments.rs). Refresh them on
  # every start (on PostgreSQL, autovacuum does this).
  if [ -f "$state/mlflow/mlflow.db" ]; then
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("ANALYZE"); c.commit(); c.close()' "$state/mlflow/mlflow.db"
  fi
  # Artifacts go to MinIO (bucket $mlflow_bucket, user of the same name),
  # where model servers read registered versions from (decision 0018). The
  # key reaches boto3 in a credentials file, never on a command line; the
  # bucket itself is made by provision_minio, before anything is logged.
  make_key "$mlflow_bucket"
  (umask 077 && printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$mlflow_bucket" "$(cat "$keys/$mlflow_bucket")" >"$keys/$mlflow_bucket.aws")
  # PYTHONPATH: a workaround for an MLflow race (deploy/local/mlflow/site/).
  # No job execution: its workers (GenAI scorers, trace archival, nothing the
  # portal uses) kept two cores busy for ~15 s after every start.
  start mlflow env PYTHONPATH="$here/mlflow/site" MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    MLFLOW_S3_ENDPOINT_URL="$s3_endpoint" AWS_DEFAULT_REGION="$s3_region" \
    AWS_SHARED_CREDENTIALS_FILE="$keys/$mlflow_bucket.aws" AWS_CONFIG_FILE=/dev/null \
    "$(bash "$repo/scripts/mlflow.sh" path)/mlflow" server \
    --backend-store-uri "sqlite:///$state/mlflow/mlflow.db" --serve-artifacts \
    --artifacts-destination "s3://$mlflow_bucket" --enable-workspaces \
    --host 127.0.0.1 --port "$mlflow_port" --workers 2
  # MinIO, one process on one directory. The root password reaches it as a
  # file, so it is on no command line (nor in $run/minio.cmd); were the file
  # missing, MinIO would quietly take minioadmin/minioadmin. MINIO_UPDATE=off:
  # a pinned build, so no update check and no in-place update by the admin API.
  # MINIO_MEMLIMIT (Go's soft memory limit): admin calls carrying a key are
  # encrypted with argon2id (64 MiB to decrypt each), and MinIO kept that
  # memory, ~460 MB after provisioning against ~125 MB idle; with it, ~190 MB.
  mkdir -p "$state/minio"
  make_key root
  start minio env MINIO_ROOT_USER="$s3_root_user" MINIO_ROOT_PASSWORD_FILE="$keys/root" MINIO_UPDATE=off \
    MINIO_MEMLIMIT=256MiB \
    "$minio" server "$state/minio" --address "127.0.0.1:$minio_port" \
    --console-address "127.0.0.1:$minio_console_port"
  start etcd env ETCD_UNSAFE_NO_FSYNC=true "$bin" etcd --data-dir "$state/etcd" \
    --listen-client "http://127.0.0.1:$etcd_port" --listen-peer "http://127.0.0.1:$((etcd_port + 1))"
  wait_for etcd 60 curl -sf "http://127.0.0.1:$etcd_port/health"
  start kube-apiserver "$bin" kube-apiserver \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --cert-dir="$state/apiserver-certs" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
    --authorization-mode=Node,RBAC --allow-privileged=true --profiling=false \
    --authentication-config="$state/authentication.yaml" \
    --enable-priority-and-fairness=false --kubelet-preferred-address-types=InternalIP
  wait_for kube-apiserver 120 curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$api_port/readyz"
  start kube-controller-manager "$bin" kube-controller-manager \
    --kubeconfig="$state/controller-manager.kubeconfig" --root-ca-file="$pki/ca.crt" \
    --service-account-private-key-file="$pki/sa.key" --use-service-account-credentials=true \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --cert-dir="$state/kcm-certs" \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --enable-hostpath-provisioner --pvclaimbinder-sync-period=2s --kube-api-qps=200 --kube-api-burst=400
  start kube-scheduler "$bin" kube-scheduler --kubeconfig="$state/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=0
  kubectl() { "$bin" kubectl --kubeconfig="$state/admin.kubeconfig" "$@"; }
  say "bootstrapping the cluster"
  kubectl apply -f "$here/bootstrap/portal-namespace.yaml" -f "$state/chart-rbac.yaml" \
    -f "$here/bootstrap/" -f "$here/kwok/nodes.yaml" >"$logs/bootstrap.log"
  # kwok answers for the nodes' kubelets on 127.0.0.1:$kubelet_port (the node
  # stages publish that address and port; the API server is told to use the
  # InternalIP), so `kubectl logs` works. Every container prints
  # kwok/container.log (a ClusterLogs in kwok's config), unless a `Logs`
  # object (kwok.x-k8s.io/v1alpha1, named after the pod, in its namespace;
  # --enable-crds=Logs) names a file of its own, e.g. for a test.
  cat >"$state/kwok-logs.yaml" <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {name: atrium-default}
spec:
  logs:
  - logsFile: $here/kwok/container.log
EOF
  kubectl apply --server-side -f "$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" \
    >>"$logs/bootstrap.log"
  kubectl wait --for condition=Established --timeout=60s crd/logs.kwok.x-k8s.io >>"$logs/bootstrap.log"
  # Changed stages (or log configuration) need a fresh kwok.
  local stages_sum
  stages_sum=$(cat "$here/kwok/stages.yaml" "$state/kwok-logs.yaml" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$run/kwok.stages.sha256" 2>/dev/null)" != "$stages_sum" ]; then stop kwok; fi
  echo "$stages_sum" >"$run/kwok.stages.sha256"
  start kwok "$kwok" --kubeconfig="$state/admin.kubeconfig" --config="$here/kwok/stages.yaml" \
    --config="$state/kwok-logs.yaml" --enable-crds=Logs \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr=10.244.0.0/16 --node-ip=127.0.0.1 --node-port="$kubelet_port" --server-address="127.0.0.1:$kubelet_port"
  wait_for kwok 60 bash -c "'$bin' kubectl --kubeconfig='$state/admin.kubeconfig' wait --for=condition=Ready node --all --timeout=1s"
  # Argo Workflows: CRDs and the controller's RBAC from the Go module. The
  # RBAC leaves the namespace (of its Role, and of the ServiceAccount its
  # ClusterRoleBinding names) to the installation: `argo`, which
  # bootstrap/argo.yaml makes along with the controller's ConfigMap. The
  # controller runs cluster-wide, without leader election (one process);
  # --executor-image because images are never pulled. It looks at a running
  # workflow again 10 s after a change by default, so a step of a DAG started
  # ~10 s after the one before; 1 s (its minimum) suits steps that take 1-2 s.
  local argo_mod
  argo_mod=$(module_dir "github.com/argoproj/argo-workflows/v4@$ARGO_VERSION")
  kubectl apply --server-side -k "$argo_mod/manifests/base/crds/minimal" >>"$logs/bootstrap.log"
  mkdir -p "$state/argo-rbac"
  cat >"$state/argo-rbac/kustomization.yaml" <<EOF
namespace: argo
resources: # (Kustomize wants a relative path.)
- $(realpath --relative-to="$state/argo-rbac" "$argo_mod/manifests/cluster-install-no-crds/workflow-controller-rbac")
patches:
- target: {kind: ClusterRoleBinding, name: argo-binding}
  patch: '[{"op": "add", "path": "/subjects/0/namespace", "value": "argo"}]'
EOF
  kubectl apply -k "$state/argo-rbac" >>"$logs/bootstrap.log"
  kubectl wait --for condition=Established --timeout=60s $(kubectl get -k "$argo_mod/manifests/base/crds/minimal" -o name) \
    >>"$logs/bootstrap.log"
  start workflow-controller env LEADER_ELECTION_DISABLE=true DEFAULT_REQUEUE_TIME=1s "$argo" \
    --kubeconfig="$state/argo-controller.kubeconfig" --namespace=argo \
    --executor-image="quay.io/argoproj/argoexec:$ARGO_VERSION"
  start_kserve "$kserve"
  # ResourceQuota admission refuses creates until the controller-manager has filled the status.
  wait_for kube-controller-manager 60 bash -c \
    "'$bin' kubectl --kubeconfig='$state/admin.kubeconfig' get resourcequota -n team-a atrium-quota -o jsonpath='{.status.hard.pods}' | grep -q ."
  wait_for keycloak 240 curl -sf --cacert "$pki/ca.crt" "$issuer/.well-known/openid-configuration"
  # The API server fetches Keycloak's keys every 10 s until it has them.
  wait_for kube-apiserver 60 trusts_keycloak
  wait_for mlflow 180 curl -sf "http://127.0.0.1:$mlflow_port/health"
  # Its health endpoint is on :6060 (all interfaces; the port is fixed).
  wait_for workflow-controller 60 curl -sf http://127.0.0.1:6060/healthz
  wait_for minio 60 curl -sf "$s3_endpoint/minio/health/ready"
  wait_for kserve-controller 60 curl -sf "http://127.0.0.1:$kserve_health_port/readyz"
  # The runtime's validating webhook is the controller's: apply it now.
  python3 "$here/kserve/resources.py" "$(module_dir "github.com/kserve/kserve@$KSERVE_VERSION")" "$kserve/config" \
    "$kserve_webhook_port" "$pki/ca.crt" after | kubectl apply --server-side -f - >>"$logs/bootstrap.log"
  provision_minio
  # Each MLflow worker loads its search code on its first search (about a
  # second here, several under load): do that now rather than in a test.
  local warm=()
  for _ in 1 2 3 4; do
    curl -s -o /dev/null -H 'content-type: application/json' -d '{"experiment_ids":["0"],"max_results":1}' \
      "http://127.0.0.1:$mlflow_port/api/2.0/mlflow/runs/search" &
    warm+=($!)
  done
  wait "${warm[@]}"
  write_env
  say "up: Kubernetes https://127.0.0.1:$api_port, Keycloak https://localhost:$kc_port (admin/admin; certificate from $pki/ca.crt), MLflow http://127.0.0.1:$mlflow_port, MinIO $s3_endpoint (console http://127.0.0.1:$minio_console_port; root credentials in $state/stack.env)"
}

# KServe: CRDs (as build.sh copied them from the module), the controller's
# RBAC from the module (its ClusterRoleBinding's subject gets the namespace
# the installation would give it), its configuration, and webhook
# configurations calling the process on loopback (kserve/resources.py). The
# webhooks fail closed, as installed upstream: while the controller is down,
# InferenceServices cannot be created or changed. Uses up()'s kubectl.
start_kserve() {
  local kserve=$1 mod
  mod=$(module_dir "github.com/kserve/kserve@$KSERVE_VERSION")
  kubectl apply --server-side -f "$kserve/crds" >>"$logs/bootstrap.log"
  # (Kustomize reads files only from below its own folder: copies.)
  mkdir -p "$state/kserve-rbac"
  install -m 644 "$mod/config/rbac/role.yaml" "$mod/config/rbac/role_binding.yaml" "$state/kserve-rbac/"
  cat >"$state/kserve-rbac/kustomization.yaml" <<EOF
namespace: kserve
resources: [role.yaml, role_binding.yaml]
patches:
- target: {kind: ClusterRoleBinding, name: kserve-manager-rolebinding}
  patch: '[{"op": "add", "path": "/subjects/0/namespace", "value": "kserve"}]'
EOF
  kubectl apply -k "$state/kserve-rbac" >>"$logs/bootstrap.log"
  python3 "$here/kserve/resources.py" "$mod" "$kserve/config" "$kserve_webhook_port" "$pki/ca.crt" before |
    kubectl apply --server-side -f - >>"$logs/bootstrap.log"
  kubectl wait --for condition=Established --timeout=60s $(kubectl get -f "$kserve/crds" -o name) >>"$logs/bootstrap.log"
  # Its webhook server reads its certificate from $TMPDIR/k8s-webhook-server/serving-certs.
  local certs="$state/kserve-tmp/k8s-webhook-server/serving-certs"
  mkdir -p "$certs"
  cp "$pki/kserve-webhook.crt" "$certs/tls.crt"
  cp "$pki/kserve-webhook.key" "$certs/tls.key"
  start kserve-controller env POD_NAMESPACE=kserve TMPDIR="$state/kserve-tmp" "$kserve/manager" \
    -kubeconfig="$state/kserve-controller.kubeconfig" -webhook-port="$kserve_webhook_port" \
    -metrics-addr="127.0.0.1:$kserve_metrics_port" -health-probe-addr="127.0.0.1:$kserve_health_port"
}

# stack.env: what the portal and the tests need to reach the stack. It holds
# MinIO's keys, so it is its owner's only.
write_env() {
  touch "$state/stack.env" && chmod 600 "$state/stack.env"
  cat >"$state/stack.env" <<EOF
ATRIUM_KUBECONFIG=$state/portal.kubeconfig
ATRIUM_KUBERNETES__IDENTITY=passthrough
STACK_IMPERSONATING_KUBECONFIG=$state/portal-impersonating.kubeconfig
STACK_ADMIN_KUBECONFIG=$state/admin.kubeconfig
ATRIUM_OIDC__ISSUER_URL=$issuer
ATRIUM_OIDC__CA_FILE=$pki/ca.crt
STACK_CA=$pki/ca.crt
ATRIUM_OIDC__CLIENT_ID=atrium-portal
ATRIUM_OIDC__CLIENT_SECRET=atrium-dev-secret
STACK_BIN=$("$here/build-controlplane.sh" | tail -n 1)
ATRIUM_MLFLOW__URL=http://127.0.0.1:$mlflow_port
STACK_MLFLOW_BIN=$(bash "$repo/scripts/mlflow.sh" path)
STACK_MLFLOW_DB=$state/mlflow/mlflow.db
ATRIUM_MODELS__ARTIFACTS_URI=s3://$mlflow_bucket
STACK_MLFLOW_BUCKET=$mlflow_bucket
ATRIUM_OBJECT_STORE__ENDPOINT=$s3_endpoint
ATRIUM_OBJECT_STORE__BUCKET=atrium-logs
ATRIUM_OBJECT_STORE__REGION=$s3_region
ATRIUM_OBJECT_STORE__ACCESS_KEY_ID=atrium-portal
ATRIUM_OBJECT_STORE__SECRET_ACCESS_KEY=$(cat "$keys/atrium-portal")
STACK_S3_ROOT_USER=$s3_root_user
STACK_S3_ROOT_PASSWORD=$(cat "$keys/root")
EOF
}

stop() {
  local name=$1
  # Argo's workflow-controller ignores SIGTERM.
  local sig=TERM; [ "$name" = workflow-controller ] && sig=KILL
  if alive "$name"; then
    say "stopping $name"
    kill -"$sig" -- "-$(cat "$run/$name.pid")" 2>/dev/null || kill -"$sig" "$(cat "$run/$name.pid")" || true
    for _ in $(seq 1 40); do alive "$name" || break; sleep 0.25; done
    alive "$name" && kill -KILL -- "-$(cat "$run/$name.pid")" 2>/dev/null || true
  fi
  rm -f "$run/$name.pid"
}

down() {
  # Model servers started by scripts/model-server.sh (each in its own session).
  for pid in "$state"/model-servers/*/pid; do
    [ -f "$pid" ] && { kill -- "-$(cat "$pid")" 2>/dev/null || true; rm -f "$pid"; }
  done
  for name in kserve-controller workflow-controller kwok kube-scheduler kube-controller-manager kube-apiserver etcd keycloak mlflow minio; do
    stop "$name"
  done
}

status() {
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok workflow-controller kserve-controller keycloak mlflow minio; do
    if alive "$name"; then echo "$name: running (pid $(cat "$run/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  reset) down; rm -rf "$state"; say "state removed" ;;
  *) echo "usage: $0 up|down|status|reset" >&2; exit 2 ;;
esac
