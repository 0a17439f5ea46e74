import { expect, type Locator, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { Shell } from "../pages/shell";

// An ML engineer's path from a training run to a served model, through the
// portal only: a run logs a model (MLflow's own client, straight to the
// tracking server, as a seed); maria registers it from the run's page, opens
// the model, names it champion, previews and deploys it, follows it until
// KServe's real controller reports it Ready, rolls out a second version as
// a 20 % canary, promotes it, serves the first again from the history, and
// removes it.

const mlflow = process.env.ATRIUM_MLFLOW__URL;

/** Starts or stops a real model server for a deployment (scripts/model-server.sh). */
function modelServer(...args: string[]) {
  if (args[0] === "serve") started.push([args[1], args[2]]);
  execFileSync("bash", ["scripts/model-server.sh", ...args], { stdio: ["ignore", "inherit", "inherit"] });
}
const started: [string, string][] = [];
// A failed test still stops the model servers it started.
test.afterAll(() => {
  for (const [team, name] of started) execFileSync("bash", ["scripts/model-server.sh", "stop", team, name]);
});

/** Waits until the deployment says Ready; while it says Not ready, the
 * reasons it gives are what a failure reports. */
async function readyOrWhy(deployment: Locator) {
  await expect
    .poll(
      async () => {
        const state = (await deployment.getByTestId("deployment-state").textContent())?.trim();
        const reasons = deployment.getByTestId("deployment-reasons");
        return state === "Not ready" && (await reasons.count()) > 0 ? `Not ready: ${await reasons.textContent()}` : state;
      },
      { timeout: 90_000, intervals: [500] },
    )
    .toBe("Ready");
}

/** A run whose model learnt y = factor × (x1 + x2). */
function trainedRun(team: string, factor = 1): [string, string] {
  const bin = process.env.STACK_MLFLOW_BIN;
  if (!bin || !mlflow) throw new Error("STACK_MLFLOW_BIN and ATRIUM_MLFLOW__URL come from .stack/stack.env");
  const script = [
    "import mlflow, numpy as np",
    "from sklearn.linear_model import LinearRegression",
    `mlflow.set_experiment('e2e-serve-${Date.now().toString(36)}')`,
    "X = np.arange(20, dtype=float).reshape(-1, 2)",
    "with mlflow.start_run(run_name='fit') as run:",
    "    mlflow.log_metric('rmse', 0.125)",
    `    mlflow.sklearn.log_model(LinearRegression().fit(X, X.sum(1) * ${factor}), name='model', input_example=X[:2])`,
    "print(run.info.experiment_id, run.info.run_id)",
  ].join("\n");
  const out = execFileSync(`${bin}/python`, ["-c", script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, MLFLOW_TRACKING_URI: mlflow, MLFLOW_WORKSPACE: team },
  });
  const [experiment, run] = out.toString().trim().split("\n").pop()!.split(" ");
  return [experiment, run];
}

test("maria registers a run's model, names it champion, deploys it until KServe says Ready, tries a second version as a canary, promotes it, serves the first again, and removes it", async ({ page }) => {
  test.setTimeout(300_000);
  const [experiment, run] = trainedRun("team-b");
  const name = `serve-${Date.now().toString(36)}`;
  const shell = new Shell(page);
  await shell.signInAt(`/experiments/team-b/${experiment}/runs/${run}`, "maria");

  // Registered from the run, then on to the model's page.
  const logged = page.getByTestId("logged-model");
  await logged.getByTestId("register-name").fill(name);
  await logged.getByTestId("register-model").click();
  await expect(logged.getByTestId("registered")).toContainText(`Registered as version 1 of “${name}”.`);
  await logged.getByTestId("registered-link").click();
  await expect(page.getByTestId("model-name")).toHaveText(name);
  await page.locator("body[data-hydrated]").waitFor();
  const version = page.locator('[data-testid="version-row"][data-version="1"]');
  await expect(version.getByTestId("version-run")).toHaveText("fit");
  await expect(page.locator('[data-testid="metric-chart"][data-metric="rmse"]')).toBeVisible();

  // Named champion (an alias that names a version is refused as typed).
  const aliases = page.getByTestId("model-aliases");
  await aliases.getByTestId("alias-name").fill("v2");
  await expect(aliases.getByRole("alert")).toContainText("names a version");
  await aliases.getByTestId("alias-name").fill("champion");
  await aliases.getByTestId("alias-set").click();
  await expect(aliases.getByTestId("alias-result")).toHaveText("Alias set.");
  await expect(aliases.locator('[data-testid="alias"][data-alias="champion"]')).toContainText("champion → v1");

  // Deploy: a wrong amount is named as typed; the preview is Kubernetes' dry-run.
  const form = page.getByTestId("deploy-form");
  await form.getByTestId("deploy-memory").fill("lots");
  await expect(form.getByTestId("deploy-problems")).toContainText("“lots” is not an amount of memory");
  await expect(form.getByTestId("deploy-submit")).toBeDisabled();
  await form.getByTestId("deploy-memory").fill("1Gi");
  await form.getByTestId("deploy-cpu").fill("500m");
  // The runtime comes from the cluster's catalog, the portal's default first.
  await expect(form.getByTestId("deploy-runtime")).toHaveValue("kserve-mlserver");
  await form.getByTestId("deploy-preview").click();
  await expect(form.getByTestId("deploy-preview-ok")).toBeVisible();
  await expect(form.getByTestId("deploy-yaml")).toContainText("kind: InferenceService");
  await expect(form.getByTestId("deploy-yaml")).toContainText("runtime: kserve-mlserver");
  await form.getByTestId("deploy-submit").click();
  await expect(form.getByTestId("deploy-result")).toContainText(`Deployment “${name}” created`);

  // Followed without a reload until KServe's controller says Ready.
  const deployment = page.locator(`[data-testid="deployment"][data-deployment="${name}"]`);
  await expect(deployment).toBeVisible();
  await readyOrWhy(deployment);
  await expect(deployment.getByTestId("deployment-url")).toHaveText(`http://${name}-team-b.models.localhost`);
  await expect(page.getByTestId("deployments-following")).toBeHidden();

  // Try it: kwok's pod runs nothing, so a real MLServer (the runtime's own
  // server) serves version 1 on this machine, mapped to the deployment. The
  // request is filled in from what the model takes; the answer is the model's.
  modelServer("serve", "team-b", name, name, "1", "18950", process.env.ATRIUM_E2E_UPSTREAM_MAP!);
  const tryIt = deployment.getByTestId("try-it");
  await tryIt.locator("summary").click();
  await expect(tryIt.getByTestId("predict-request")).toHaveValue(/"datatype": "FP64"/);
  await tryIt.getByTestId("predict-request").fill("{\"inputs\": [");
  await expect(tryIt.getByTestId("predict-problem")).toContainText("The request is not JSON");
  await expect(tryIt.getByTestId("predict-send")).toBeDisabled();
  await tryIt.getByTestId("predict-request").fill(JSON.stringify({ inputs: [{ name: "input-0", shape: [1, 2], datatype: "FP64", data: [1, 2] }] }));
  await tryIt.getByTestId("predict-send").click();
  await expect(tryIt.getByTestId("predict-status")).toHaveText("Answered");
  await expect(tryIt.getByTestId("predict-output")).toHaveText(/^\[(2\.9999\d*|3(\.0*\d*)?)\]$/);
  await expect(tryIt.getByTestId("predict-latency")).toHaveText(/^\d+ ms$/);
  // The model server goes down: the panel says so.
  modelServer("stop", "team-b", name);
  await tryIt.getByTestId("predict-send").click();
  await expect(tryIt.getByTestId("predict-error")).toContainText(`The model server of deployment “${name}” is not answering`);

  // The team's list says where it is served and what champion names.
  await shell.open("/models/team-b");
  const row = page.locator(`[data-testid="model-row"][data-model="${name}"]`);
  await expect(row.getByTestId("model-alias")).toHaveText("champion → v1");
  await expect(row.getByTestId("model-deployment")).toContainText(`${name} (v1)`);
  await expect(row.getByTestId("model-deployment")).toContainText("Ready");

  // Lineage, one click each way: version → deployment → version → run → version.
  await shell.open(`/models/team-b/${name}`);
  await version.getByTestId("version-deployment").click();
  await expect(page).toHaveURL(new RegExp(`#deployment-${name}$`));
  await deployment.getByTestId("deployment-version").click();
  await expect(page).toHaveURL(/#v1$/);
  await version.getByTestId("version-run").click();
  await expect(page.getByTestId("run-title")).toHaveText("fit");
  await page.getByTestId("registered-version").filter({ hasText: `${name} v1` }).click();
  await expect(page.getByTestId("model-name")).toHaveText(name);
  await expect(page).toHaveURL(/#v1$/);

  // A second version, tried as a 20 % canary beside the first, then promoted.
  const [experiment2, run2] = trainedRun("team-b", 2);
  await shell.open(`/experiments/team-b/${experiment2}/runs/${run2}`);
  await page.getByTestId("logged-model").getByTestId("register-name").fill(name);
  await page.getByTestId("logged-model").getByTestId("register-model").click();
  await expect(page.getByTestId("registered")).toContainText(`Registered as version 2 of “${name}”.`);
  await shell.open(`/models/team-b/${name}`);
  await deployment.getByTestId("canary-percent").fill("150");
  await expect(deployment.getByTestId("canary-form").getByRole("alert")).toContainText("0 to 100 %");
  await deployment.getByTestId("canary-percent").fill("20");
  await deployment.getByTestId("canary-version").selectOption("2");
  await deployment.getByTestId("canary-start").click();
  const canary = deployment.getByTestId("canary");
  await expect(canary).toContainText("Canary: version 2 at 20 % of the traffic");
  await expect(canary.getByTestId("canary-state")).toHaveText("Ready", { timeout: 90_000 });
  // Nothing on the local stack splits traffic, and the page says so.
  await expect(canary.getByTestId("traffic-note")).toContainText("reach version 1 only");
  // Each version gets its own real model server (standing in for its pods).
  // Try it reaches either one; the card counts what each answered and
  // charts the share each served against the share asked.
  modelServer("serve", "team-b", name, name, "1", "18950", process.env.ATRIUM_E2E_UPSTREAM_MAP!);
  modelServer("serve", "team-b", name, name, "2", "18954", process.env.ATRIUM_E2E_UPSTREAM_MAP!);
  const counted = (version: string) => deployment.locator(`[data-testid="traffic-version"][data-version="${version}"]`);
  await expect(counted("2")).toHaveText("version 2 (canary): 0 requests answered, 0 failed.", { timeout: 15_000 });
  await expect(deployment.getByTestId("traffic-asked").getByTestId("traffic-share").first()).toHaveAttribute("data-share", "80.0 %");
  await expect(deployment.getByTestId("traffic-asked").getByTestId("traffic-share").last()).toHaveAttribute("data-share", "20.0 %");
  const tryCanary = deployment.getByTestId("try-it");
  await tryCanary.locator("summary").click();
  await expect(tryCanary.getByTestId("predict-request")).toHaveValue(/"datatype": "FP64"/);
  await tryCanary.getByTestId("predict-target").selectOption("2");
  await tryCanary.getByTestId("predict-request").fill(JSON.stringify({ inputs: [{ name: "input-0", shape: [1, 2], datatype: "FP64", data: [1, 2] }] }));
  await tryCanary.getByTestId("predict-send").click();
  await expect(tryCanary.getByTestId("predict-status")).toHaveText("Answered");
  // Version 2 learnt twice what version 1 did: this is the canary's answer.
  await expect(tryCanary.getByTestId("predict-output")).toHaveText(/^\[(5\.9999\d*|6(\.0*\d*)?)\]$/);
  await expect(counted("2")).toHaveText("version 2 (canary): 1 request answered, 0 failed.");
  await expect(counted("1")).toHaveText("version 1: 0 requests answered, 0 failed.");
  await tryCanary.getByTestId("predict-target").selectOption("1");
  await tryCanary.getByTestId("predict-send").click();
  await expect(counted("1")).toHaveText("version 1: 1 request answered, 0 failed.");
  await expect(deployment.getByTestId("traffic-served").getByTestId("traffic-share")).toHaveCount(2);
  await expect(deployment.getByTestId("traffic-legend")).toHaveText("version 1: asked 80 %, served 50.0 % · version 2 (canary): asked 20 %, served 50.0 %");
  await canary.getByTestId("canary-promote").click();
  await expect(deployment.getByTestId("canary")).toBeHidden();
  await readyOrWhy(deployment);

  // The history names each step; version 1 serves again in one click.
  await deployment.getByTestId("deployment-history").locator("summary").click();
  await expect(deployment.getByTestId("revision")).toHaveText([
    /^v2 promoted to 100 % — maria/,
    /^v2 canary at 20 % — maria/,
    /^v1 deployed — maria/,
  ]);
  await deployment.locator('[data-testid="rollback-to"][data-version="1"]').click();
  await expect(deployment.getByTestId("revision").first()).toHaveText(/^v1 rolled back to — maria/);
  await readyOrWhy(deployment);

  // Removed, after a confirmation.
  await deployment.getByTestId("undeploy").click();
  await deployment.getByTestId("undeploy-confirm").click();
  await expect(page.getByTestId("deployments-empty")).toBeVisible();
});
