import { execFileSync } from "node:child_process";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { Shell } from "../pages/shell";

// Approval for production across three people, each in their own browser:
// paula marks a new team as production, tom (its admin) adds maria as its
// ML engineer; maria deploys a model and tries a second version as a canary;
// her promotion waits for tom, who approves it on the model's page, and
// then version 2 serves and "champion" names it.

const base = process.env.ATRIUM_E2E_BASE_URL ?? "http://localhost:3100";
const team = `e2e-prod-${Date.now().toString(36)}`;
const bin = process.env.STACK_BIN;
const kubeconfig = process.env.STACK_ADMIN_KUBECONFIG;

function kubectl(...args: string[]): string {
  if (!bin || !kubeconfig) throw new Error("STACK_BIN and STACK_ADMIN_KUBECONFIG come from .stack/stack.env");
  return execFileSync(bin, ["kubectl", `--kubeconfig=${kubeconfig}`, ...args]).toString();
}

test.afterAll(() => {
  if (bin && kubeconfig) kubectl("delete", "namespace", team, "--ignore-not-found", "--wait=false");
});

async function signedIn(browser: Browser, user: string, path = "/"): Promise<Shell> {
  const context = await browser.newContext();
  const shell = new Shell(await context.newPage());
  await shell.signInAt(path, user);
  return shell;
}

/** A server function called from the person's browser session, as the page would. */
async function call(page: Page, endpoint: string, form: Record<string, string>) {
  const res = await page.request.post(`/api/${endpoint}`, { form, headers: { Origin: base } });
  expect(res.status(), `${endpoint}: ${await res.text()}`).toBe(200);
}

/** Logs a fitted model in a run of `team`'s workspace (MLflow's own client, as a notebook would). */
function trainedRun(team: string, slope: number): [string, string] {
  const python = `${process.env.STACK_MLFLOW_BIN}/python`;
  const script = [
    "import mlflow, numpy as np",
    "from sklearn.linear_model import LinearRegression",
    `mlflow.set_experiment('e2e-prod-${Date.now().toString(36)}')`,
    "X = np.arange(20, dtype=float).reshape(-1, 2)",
    "with mlflow.start_run(run_name='fit') as run:",
    `    mlflow.sklearn.log_model(LinearRegression().fit(X, X.sum(1) * ${slope}), name='model', input_example=X[:2])`,
    "print(run.info.experiment_id, run.info.run_id)",
  ].join("\n");
  const out = execFileSync(python, ["-c", script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, MLFLOW_TRACKING_URI: process.env.ATRIUM_MLFLOW__URL, MLFLOW_WORKSPACE: team },
  });
  const [experiment, run] = out.toString().trim().split("\n").pop()!.split(" ");
  return [experiment, run];
}

test("tom approves maria's deployment, then her promotion, in a production team, and champion follows", async ({ browser }) => {
  test.setTimeout(300_000);
  const maria = await signedIn(browser, "maria");
  const tom = await signedIn(browser, "tom");
  const paula = await signedIn(browser, "paula", "/admin");

  // paula makes the team and marks it as production on /admin.
  await call(paula.page, "admin-team-create", { name: team, display_name: "E2E production", admin: "tom" });
  await paula.open("/admin");
  await paula.page.locator("#admin-team-search").fill(team);
  await paula.page.getByTestId(`manage-${team}`).click();
  await paula.page.getByTestId("promotions-need-approval").check();
  await expect(paula.page.getByTestId("promotions-result")).toHaveText("Promotions now need approval.");
  // tom adds maria as the team's ML engineer; the team's data connection is team-b's.
  await call(tom.page, "team-member-set", { team, kind: "User", name: "maria", "personas[0]": "ml-engineer", new: "true" });
  const secret = JSON.parse(kubectl("get", "secret", "object-storage", "-n", "team-b", "-o", "json"));
  const copy = { apiVersion: "v1", kind: "Secret", metadata: { name: "object-storage", namespace: team, annotations: secret.metadata.annotations }, type: secret.type, data: secret.data };
  execFileSync(bin!, ["kubectl", `--kubeconfig=${kubeconfig}`, "apply", "-f", "-"], { input: JSON.stringify(copy) });

  // maria registers two versions from their runs, deploys the first and tries the second as a 20 % canary.
  const name = `fraud-${Date.now().toString(36)}`;
  for (const [i, slope] of [1, 2].entries()) {
    const [experiment, run] = trainedRun(team, slope);
    await expect(async () => {
      await maria.open(`/experiments/${team}/${experiment}/runs/${run}`);
      await expect(maria.page.getByTestId("logged-model")).toBeVisible({ timeout: 2_000 });
    }).toPass({ timeout: 20_000 });
    await maria.page.getByTestId("logged-model").getByTestId("register-name").fill(name);
    await maria.page.getByTestId("logged-model").getByTestId("register-model").click();
    await expect(maria.page.getByTestId("registered")).toContainText(`Registered as version ${i + 1} of “${name}”.`);
  }
  // Deploying asks too: nothing serves in production that a team admin did
  // not approve. The form says so; the asked deployment is listed as waiting.
  await maria.open(`/models/${team}/${name}`);
  const form = maria.page.getByTestId("deploy-form");
  await expect(form.getByTestId("deploy-asks")).toBeVisible();
  await form.getByTestId("deploy-version").selectOption("1");
  await form.getByTestId("deploy-name").fill(name);
  await form.getByTestId("deploy-cpu").fill("500m");
  await form.getByTestId("deploy-memory").fill("1Gi");
  await form.getByTestId("deploy-preview").click();
  await expect(form.getByTestId("deploy-preview-ok")).toContainText("a team admin approves new deployments");
  await expect(form.getByTestId("deploy-submit")).toHaveText("Ask to deploy");
  await form.getByTestId("deploy-submit").click();
  await expect(form.getByTestId("deploy-result")).toHaveText(`Asked the team's admins to approve deploying version 1 as “${name}”; it is listed here, and nothing is created until one does.`);
  const mine = maria.page.locator(`[data-testid="deployment"][data-deployment="${name}"]`);
  await expect(mine.getByTestId("deployment-state")).toHaveText("Waiting for approval");
  await expect(mine.getByTestId("promotion-waiting")).toContainText(`maria asks to deploy version 1 as “${name}”`);
  await expect(mine.getByTestId("undeploy")).toHaveCount(0);
  expect(kubectl("get", "inferenceservices", "-n", team, "-o", "name")).not.toContain(name);

  // tom approves it on the model's page: created as him, champion on version 1.
  await tom.open(`/models/${team}/${name}`);
  const asked = tom.page.locator(`[data-testid="deployment"][data-deployment="${name}"]`);
  await asked.getByTestId("promotion-approve").click();
  await expect(tom.page.getByTestId("rollout-notice")).toHaveText(`Deployment “${name}” created; version 1 serves once it is ready. “champion” names version 1.`);
  await expect(asked.getByTestId("deployment-state")).toHaveText("Ready", { timeout: 90_000 });
  await call(maria.page, "model-canary", { team, name, version: "2", percent: "20" });

  // Her page says a team admin approves; promoting asks, and version 1 serves on.
  await maria.open(`/models/${team}/${name}`);
  await expect(mine.getByTestId("approval-note")).toBeVisible();
  await expect(mine.getByTestId("canary-state")).toHaveText("Ready", { timeout: 90_000 });
  await expect(mine.getByTestId("canary-promote")).toHaveText("Ask to promote to 100 %");
  await mine.getByTestId("canary-promote").click();
  await expect(maria.page.getByTestId("rollout-notice")).toHaveText("Asked the team's admins to approve: version 1 serves everything until one does.");
  await expect(mine.getByTestId("promotion-waiting")).toContainText("maria asks to promote version 2 to serve all traffic (version 1 serves now)");
  await expect(mine.getByTestId("promotion-approve")).toHaveCount(0);
  await expect(mine.getByTestId("canary-promote")).toHaveCount(0);

  // tom approves on the same page; it is carried out as him.
  await tom.open(`/models/${team}/${name}`);
  const his = tom.page.locator(`[data-testid="deployment"][data-deployment="${name}"]`);
  await expect(his.getByTestId("promotion-waiting")).toContainText("maria asks to promote version 2");
  await his.getByTestId("promotion-approve").click();
  await expect(tom.page.getByTestId("rollout-notice")).toHaveText("Version 2 now serves all traffic. “champion” names version 2.");
  await expect(his.getByTestId("promotion-waiting")).toHaveCount(0);
  await expect(his.getByTestId("canary")).toHaveCount(0);
  await expect(his.getByTestId("deployment-state")).toHaveText("Ready", { timeout: 90_000 });
  await his.getByTestId("deployment-history").locator("summary").click();
  await expect(his.getByTestId("revision").first()).toContainText("v2 promoted to 100 % — tom");

  // maria sees version 2 serving, champion on it, and nothing waiting.
  await maria.open(`/models/${team}/${name}`);
  await expect(mine).toContainText("version 2");
  await expect(mine.getByTestId("promotion-waiting")).toHaveCount(0);
  await expect(maria.page.getByTestId("model-aliases")).toContainText("champion → v2");
});
