#!/usr/bin/env bash
# Runs every test of Atrium on real parts: unit and integration tests
# (cargo test) against the local stack (Kubernetes from Go modules, kwok,
# Keycloak, MLflow), SQLite and PostgreSQL, then end-to-end tests in Debian's
# Chromium driven by Playwright. Installs and starts whatever is missing.
set -uo pipefail
repo=$(cd "$(dirname "$0")" && pwd)
cd "$repo"
logs="$repo/.stack/test-logs"
mkdir -p "$logs"
t0=$SECONDS
step() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - t0))"; }
fail() { echo "test.sh: $*" >&2; exit 1; }

step "system packages"
bash scripts/install-system-deps.sh || fail "cannot install system packages"
step "Helm from Go modules (the chart's test; the stack's RBAC and policies)"
bash scripts/helm.sh >/dev/null || fail "Helm did not build"
step "local stack"
bash deploy/local/stack.sh up || fail "the local stack did not start"
step "site (WASM, JS, CSS)"
bash scripts/build-site.sh || fail "the site did not build"
step "JupyterLab (PyPI) for the notebook tests"
bash scripts/jupyter.sh install || fail "JupyterLab did not install"
step "PostgreSQL for the store tests"
ATRIUM_TEST_POSTGRES_URL=$(bash scripts/test-postgres.sh start) || fail "PostgreSQL did not start"
export ATRIUM_TEST_POSTGRES_URL
step "the earlier release, for the rolling-upgrade test (built once)"
ATRIUM_TEST_EARLIER_BINARY=$(bash scripts/earlier-release.sh) || fail "the earlier release did not build"
export ATRIUM_TEST_EARLIER_BINARY

step "unit and integration tests (cargo test)"
cargo test --workspace --no-fail-fast --color never 2>&1 | tee "$logs/cargo-test.log"
cargo_rc=${PIPESTATUS[0]}

# The same persona journeys with the portal impersonating people, for
# clusters that cannot trust the identity provider (decision 0012).
step "persona journeys in impersonation mode"
ATRIUM_TEST_KUBE_IDENTITY=impersonation cargo test -p atrium --no-fail-fast --color never \
  --test kubernetes_as_user --test teams_and_quotas --test notebooks --test isolation --test experiments 2>&1 | tee "$logs/cargo-test-impersonation.log"
[ "${PIPESTATUS[0]}" = 0 ] || cargo_rc=1

step "end-to-end tests (Playwright, Chromium)"
e2e_port=${ATRIUM_E2E_PORT:-3100}
portal_log="$logs/portal-e2e.log"
rm -f "$repo/.stack/e2e.db"*
# The stack's pods do not really run: the notebook spec starts a JupyterLab,
# and the models spec a real MLServer (scripts/model-server.sh), and each
# writes its address here, which the portal reads per request. Model
# servers' pods (kwok's) read no files: the bucket their files would be
# served from is named, for KServe, as on a cluster (decision 0018).
export ATRIUM_E2E_UPSTREAM_MAP="$repo/.stack/e2e-upstreams.json"
echo '{}' >"$ATRIUM_E2E_UPSTREAM_MAP"
set -a
. "$repo/.stack/stack.env"
set +a
ATRIUM_LISTEN=127.0.0.1:$e2e_port ATRIUM_PUBLIC_URL=http://localhost:$e2e_port \
  ATRIUM_DATABASE_URL="sqlite://$repo/.stack/e2e.db?mode=rwc" ATRIUM_LOG_FORMAT=json \
  ATRIUM_NOTEBOOKS__UPSTREAM_MAP_FILE="$ATRIUM_E2E_UPSTREAM_MAP" ATRIUM_SHUTDOWN_DRAIN_SECONDS=0 \
  ATRIUM_MODELS__UPSTREAM_MAP_FILE="$ATRIUM_E2E_UPSTREAM_MAP" \
  "${CARGO_TARGET_DIR:-$repo/target}/debug/atrium" >"$portal_log" 2>&1 &
portal_pid=$!
trap 'kill $portal_pid 2>/dev/null' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$e2e_port/readyz" >/dev/null && break
  kill -0 $portal_pid 2>/dev/null || break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$e2e_port/readyz" >/dev/null || { tail -n 30 "$portal_log"; fail "the portal did not become ready"; }
ATRIUM_E2E_BASE_URL=http://localhost:$e2e_port npx playwright test -c end2end/playwright.config.ts
e2e_rc=$?
step "page weights against their budgets (Chromium, decision 0013)"
ATRIUM_E2E_BASE_URL=http://localhost:$e2e_port node bench/site-size.mjs
size_rc=$?
kill $portal_pid 2>/dev/null; wait $portal_pid 2>/dev/null
bash scripts/test-postgres.sh stop

# The image is built from a debug build of the same target here, to keep a
# cold run within its time (a release build of every crate for musl takes
# about 20 more minutes on 2 cores); scripts/image.sh builds release by default.
step "container image (static musl binary and the site, an OCI archive by umoci), checked"
image=$(bash scripts/image.sh build dev) && bash scripts/image.sh check "$image"
image_rc=$?

# One closing line over both runners.
read -r rust_passed rust_failed < <(awk '/^test result:/ {p+=$4; f+=$6} END {print p+0, f+0}' "$logs/cargo-test.log" "$logs/cargo-test-impersonation.log")
read -r e2e_passed e2e_failed < <(node -e '
  try { const s = require(process.argv[1]).stats; console.log(s.expected, s.unexpected + s.flaky); }
  catch { console.log(0, 1); }' "$repo/end2end/test-results/results.json")
passed=$((rust_passed + e2e_passed))
failed=$((rust_failed + e2e_failed))
[ "$cargo_rc" = 0 ] || [ "$failed" -gt 0 ] || failed=1
[ "$e2e_rc" = 0 ] || [ "$e2e_failed" -gt 0 ] || failed=$((failed + 1))
[ "$size_rc" = 0 ] || { echo "a page is over its size budget (see the table above)"; failed=$((failed + 1)); }
[ "$image_rc" = 0 ] || { echo "the container image did not build or failed its check (see above)"; failed=$((failed + 1)); }
printf '\ncargo: %s passed, %s failed; end-to-end: %s passed, %s failed; %ss in all\n' \
  "$rust_passed" "$rust_failed" "$e2e_passed" "$e2e_failed" "$((SECONDS - t0))"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
