#!/usr/bin/env bash
# Benchmarks the portal on the local stack: idle memory of a release build,
# then load on the signed-in home page (bench/home_page.rs), the admin's team
# list and the notebooks list, then what each page downloads and the time to interactive of /notebooks. ATRIUM_BENCHES picks some of
# them, e.g. ATRIUM_BENCHES=notebooks bench/run.sh. The experiments bench
# seeds 10,000 MLflow runs once (kept in .stack/mlflow) and measures the
# portal side by side with MLflow's own REST API; the pipelines bench makes a
# team with 5,000 finished runs and measures its runs page beside the API
# server's own list; the models bench seeds 500 registered models of 10
# versions once and measures a team's models page beside MLflow's registry
# search and the API server's list of InferenceServices. ATRIUM_BENCHES=replicas
# runs three replicas behind HAProxy under 64 people, one restarted mid-run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash deploy/local/stack.sh up
bash scripts/build-site.sh >/dev/null
cargo build --release --bin atrium --quiet
target=${CARGO_TARGET_DIR:-$repo/target}
set -a; . .stack/stack.env; set +a
# ATRIUM_BENCH_MLFLOW=postgres: the portal and the experiments bench use a
# second MLflow (same version) whose backend store is a throwaway PostgreSQL
# on loopback (scripts/test-postgres.sh), seeded by the bench like the first.
if [ "${ATRIUM_BENCH_MLFLOW:-}" = postgres ]; then
  pg=$(bash scripts/test-postgres.sh start)
  pg="postgresql://${pg#postgres://}" # (SQLAlchemy's name for it)
  mlbin=$(bash scripts/mlflow.sh path)
  # MLflow's SQLAlchemy reaches PostgreSQL through psycopg (3).
  "$mlbin/pip" install --quiet --disable-pip-version-check "psycopg[binary]==3.3.9"
  "$mlbin/python" -c "import psycopg; c = psycopg.connect('$pg', autocommit=True); c.execute(\"SELECT 1 FROM pg_database WHERE datname = 'mlflow_bench'\").fetchone() or c.execute('CREATE DATABASE mlflow_bench')"
  mkdir -p .stack/mlflow-pg
  PYTHONPATH=deploy/local/mlflow/site MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false "$mlbin/mlflow" server \
    --backend-store-uri "${pg%/postgres}/mlflow_bench" --serve-artifacts --artifacts-destination .stack/mlflow-pg/artifacts \
    --enable-workspaces --host 127.0.0.1 --port 15001 --workers 2 >.stack/logs/mlflow-pg.log 2>&1 &
  mlpid=$!
  until curl -sf http://127.0.0.1:15001/health >/dev/null; do kill -0 $mlpid || { tail .stack/logs/mlflow-pg.log; exit 1; }; sleep 1; done
  export ATRIUM_MLFLOW__URL=http://127.0.0.1:15001 ATRIUM_BENCH_MLFLOW_URL=http://127.0.0.1:15001 ATRIUM_BENCH_MLFLOW_DB="${pg%/postgres}/mlflow_bench"
fi
port=3101
ATRIUM_LISTEN=127.0.0.1:$port ATRIUM_PUBLIC_URL=http://localhost:$port RUST_LOG=warn \
  ATRIUM_DATABASE_URL="sqlite://$repo/.stack/bench.db?mode=rwc" "$target/release/atrium" >.stack/logs/bench-portal.log 2>&1 &
pid=$!
trap 'kill $pid ${mlpid:-} 2>/dev/null' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.3; done
sleep 2
echo "idle RSS of the portal: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
for bench in ${ATRIUM_BENCHES:-home_page admin_teams notebooks experiments pipelines models}; do
  [ "$bench" = replicas ] && continue
  ATRIUM_BENCH_URL=http://localhost:$port cargo bench --bench "$bench" --quiet
done
# Three replicas of the same build on PostgreSQL behind HAProxy, at :3000,
# one restarted mid-run (bench/replicas.rs; only when asked for by name).
case " ${ATRIUM_BENCHES:-} " in
  *" replicas "*)
    bash scripts/replicas.sh up "$target/release/atrium"
    ATRIUM_BENCH_URL=http://localhost:3000 cargo bench --bench replicas --quiet || true
    bash scripts/replicas.sh down
    ;;
esac
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
# The pipelines area in Chromium: a 200-step pipeline in the editor, and how
# soon a step's new state shows on the run page.
case " ${ATRIUM_BENCHES:-pipelines} " in
  *" pipelines "*) ATRIUM_E2E_BASE_URL=http://localhost:$port node bench/pipelines-browser.mjs ;;
esac
# What each page makes the browser download, measured in Chromium (decision 0013).
ATRIUM_E2E_BASE_URL=http://localhost:$port node bench/site-size.mjs || true
ATRIUM_E2E_BASE_URL=http://localhost:$port node bench/site-size.mjs --tti /notebooks --runs 10
