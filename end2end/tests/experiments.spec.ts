import { expect, test } from "@playwright/test";
import { Shell } from "../pages/shell";

// A data scientist's experiments, through the portal only: the runs are
// logged with MLflow's own REST API (as a training script would), then alice
// finds them, filters and sorts them on the server, and opens one.

const mlflow = process.env.ATRIUM_MLFLOW__URL;

async function rest(path: string, body: unknown): Promise<any> {
  if (!mlflow) throw new Error("ATRIUM_MLFLOW__URL comes from .stack/stack.env");
  const res = await fetch(`${mlflow}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "X-MLFLOW-WORKSPACE": "team-a" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

test("alice creates an experiment, its runs are filtered and sorted by MLflow, a run opens", async ({ page }) => {
  const name = `e2e-${Date.now().toString(36)}`;
  const shell = new Shell(page);
  await shell.signInAt("/", "alice");
  await shell.nav.getByRole("link", { name: "Experiments" }).click();
  await expect(page.getByTestId("area-title")).toHaveText("Experiments");

  await page.getByTestId("exp-create-name").fill(name);
  await page.getByTestId("exp-create-submit").click();
  await expect(page.getByTestId("exp-create-result")).toHaveText("Experiment created.");
  const row = page.locator(`[data-testid="exp-row"][data-name="${name}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("exp-last-run")).toHaveText("no runs yet");

  // Three runs with different learning rates and errors.
  const id = row.getByRole("link", { name });
  const href = await id.getAttribute("href");
  const experimentId = href!.split("/").pop();
  for (const [lr, rmse] of [["0.1", 0.42], ["0.01", 0.21], ["0.001", 0.33]] as const) {
    const run = await rest("/api/2.0/mlflow/runs/create", { experiment_id: experimentId, run_name: `lr-${lr}`, start_time: Date.now() });
    const runId = run.run.info.run_id;
    await rest("/api/2.0/mlflow/runs/log-parameter", { run_id: runId, key: "lr", value: lr });
    // A stepped history, ending at the run's error.
    for (let step = 0; step < 5; step++) {
      await rest("/api/2.0/mlflow/runs/log-metric", { run_id: runId, key: "rmse", value: rmse + (4 - step) * 0.1, timestamp: Date.now(), step });
    }
    await rest("/api/2.0/mlflow/runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
  }

  await id.click();
  await expect(page.getByTestId("exp-title")).toHaveText(name);
  await expect(page.getByTestId("run-row")).toHaveCount(3);

  // Sorted by the metric, lowest first, by MLflow.
  await page.getByTestId("runs-sort").selectOption("metrics.rmse");
  await page.getByTestId("runs-dir").selectOption("asc");
  await page.getByTestId("runs-apply").click();
  await expect(page).toHaveURL(/sort=metrics.rmse/);
  await expect(page.getByTestId("run-row").locator("td:nth-child(2)")).toHaveText(["lr-0.01", "lr-0.001", "lr-0.1"]);

  // A filter in MLflow's syntax; a wrong one is said plainly, next to the filter.
  await page.getByTestId("runs-filter-text").fill("metrics.rmse < 0.4");
  await page.getByTestId("runs-apply").click();
  await expect(page.getByTestId("run-row")).toHaveCount(2);
  await page.getByTestId("runs-filter-text").fill("metrics.rmse >> 0.4");
  await page.getByTestId("runs-apply").click();
  await expect(page.getByTestId("runs-error")).toContainText("MLflow cannot use this filter or sort");
  await expect(page.getByTestId("runs-filter-text")).toHaveValue("metrics.rmse >> 0.4");

  // One run, with its parameter and metric.
  await page.goBack();
  await expect(page.getByTestId("run-row")).toHaveCount(2);
  await page.getByRole("link", { name: "lr-0.01" }).click();
  await expect(page.getByTestId("run-title")).toHaveText("lr-0.01");
  await expect(page.getByTestId("run-params")).toContainText("0.01");
  await expect(page.getByTestId("run-metrics")).toContainText("0.21");
  // Its history, drawn on the server: five steps.
  const chart = page.locator('[data-testid="chart"][data-metric="rmse"]');
  await expect(chart.locator("polyline")).toHaveAttribute("data-points", "5");
  // Pointing at the middle of the chart reads the nearest step's exact value.
  const readout = page.getByTestId("chart-readout");
  await chart.scrollIntoViewIfNeeded();
  await expect(async () => {
    const box = (await chart.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2 - 5, box.y + box.height / 2);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await expect(readout).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await expect(readout).toContainText("step 2");
  await expect(readout).toContainText("lr-0.01: 0.41");

  // She notes what the run was for; the note stays.
  await page.getByTestId("description-edit").click();
  await page.getByTestId("description-text").fill("Best so far: keep this learning rate.");
  await page.getByTestId("description-save").click();
  await expect(page.getByTestId("run-description")).toHaveText("Best so far: keep this learning rate.");
  await page.reload();
  await expect(page.getByTestId("run-description")).toHaveText("Best so far: keep this learning rate.");

  // Three runs side by side.
  await page.goBack();
  // She picks the columns; the table keeps them on her next visit.
  await page.getByTestId("runs-columns").locator("summary").click();
  await page.getByTestId("runs-columns").getByLabel("metrics.rmse").uncheck();
  await page.getByTestId("runs-columns").getByLabel("params.lr").check();
  await page.getByTestId("runs-filter-text").fill("");
  await page.getByTestId("runs-apply").click();
  await expect(page.getByTestId("run-row")).toHaveCount(3);
  await expect(page.getByTestId("cell-params.lr")).toHaveCount(3);
  await expect(page.getByTestId("cell-metrics.rmse")).toHaveCount(0);
  for (const pick of await page.getByTestId("run-pick").all()) await pick.check();
  await page.getByTestId("runs-compare").click();
  await expect(page.getByTestId("compare-title")).toHaveText("3 runs compared");
  await expect(page.locator('[data-testid="param-row"][data-param="lr"]')).toHaveAttribute("data-differs", "true");
  const best = page.locator('[data-testid="metric-row"][data-metric="rmse"] td[data-best="true"]');
  await expect(best).toHaveCount(1);
  await expect(best).toContainText("0.21");
  await expect(page.locator('[data-testid="compare-charts"] [data-metric="rmse"] polyline')).toHaveCount(3);
  await expect(page.getByTestId("scatter").locator("circle")).toHaveCount(3);

  // Her columns, remembered for this experiment.
  await shell.open(`/experiments/team-a/${experimentId}`);
  await expect(page.getByTestId("cell-params.lr")).toHaveCount(3);
  await expect(page.getByTestId("cell-metrics.rmse")).toHaveCount(0);

  // Back on the list the experiment shows its newest run.
  await shell.open("/experiments/team-a");
  await expect(page.locator(`[data-testid="exp-row"][data-name="${name}"]`).getByTestId("exp-last-run")).not.toHaveText("no runs yet");
});

// A training script logs a model (MLflow's own client, straight to the
// tracking server as a seed); alice finds its signature on the run page and
// registers it in her team's registry.
test("alice registers the model a training run logged", async ({ page }) => {
  const bin = process.env.STACK_MLFLOW_BIN;
  if (!bin || !mlflow) throw new Error("STACK_MLFLOW_BIN and ATRIUM_MLFLOW__URL come from .stack/stack.env");
  const experiment = `e2e-model-${Date.now().toString(36)}`;
  const script = [
    "import mlflow, numpy as np",
    "from sklearn.linear_model import LinearRegression",
    `mlflow.set_experiment('${experiment}')`,
    "X = np.arange(20, dtype=float).reshape(-1, 2)",
    "with mlflow.start_run(run_name='fit') as run:",
    "    mlflow.sklearn.log_model(LinearRegression().fit(X, X.sum(1)), name='model', input_example=X[:2])",
    "print(run.info.experiment_id, run.info.run_id)",
  ].join("\n");
  const { execFileSync } = await import("node:child_process");
  const out = execFileSync(`${bin}/python`, ["-c", script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, MLFLOW_TRACKING_URI: mlflow, MLFLOW_WORKSPACE: "team-a" },
  }).toString().trim().split("\n").pop()!;
  const [experimentId, runId] = out.split(" ");

  const shell = new Shell(page);
  await shell.signInAt(`/experiments/team-a/${experimentId}/runs/${runId}`, "alice");
  const model = page.getByTestId("logged-model");
  await expect(model).toContainText("sklearn");
  await expect(model.getByTestId("model-signature")).toContainText("float64");
  const name = `churn-${Date.now().toString(36)}`;
  await model.getByTestId("register-name").fill("not a name");
  await expect(model.getByRole("alert")).toContainText("A model name is");
  await model.getByTestId("register-name").fill(name);
  await model.getByTestId("register-model").click();
  await expect(model.getByTestId("registered")).toContainText(`Registered as version 1 of “${name}”.`);

  // The link the MLflow client prints for the run leads to it in the portal.
  await page.goto(`/mlflow/team-a/#/experiments/${experimentId}/runs/${runId}`);
  await expect(page).toHaveURL(new RegExp(`/experiments/team-a/${experimentId}/runs/${runId}$`));
  await expect(page.getByTestId("run-title")).toHaveText("fit");
});
