import { resolve } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { kubectl } from "../pages/kubectl";
import { Shell } from "../pages/shell";

// A data engineer's pipeline, through the portal only: dave builds it in the
// editor (problems shown at the step as he types, undo), saves it, runs it,
// watches the diagram go green as Argo's real controller runs the steps on
// kwok's nodes, reads a step's log, runs it again, and schedules it (the
// next run times shown as he types the expression).

/** On a pipeline's page: runs it (once the page answers); the run's name. */
async function startRun(page: Page): Promise<string> {
  await page.locator("body[data-hydrated]").waitFor();
  await expect(async () => {
    await page.getByTestId("run-pipeline").click();
    await expect(page.getByTestId("run-started")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  return (await page.getByTestId("run-started").getByRole("link").textContent())!.trim();
}

test("dave builds a pipeline in the editor, runs it and watches it succeed", async ({ page }) => {
  const name = `e2e-${Date.now().toString(36)}`;
  const shell = new Shell(page);
  await shell.signInAt("/pipelines", "dave");
  await expect(page.getByTestId("area-title")).toHaveText("Pipelines");
  await page.getByTestId("pipeline-teams").getByTestId("pipeline-new").first().click();
  await expect(page.getByTestId("pipeline-editor")).toBeVisible();
  await page.locator("body[data-hydrated]").waitFor();

  const editor = page.getByTestId("pipeline-editor");
  // Waits until the editor's island answers (its code loads on its own).
  await expect(async () => {
    await page.getByTestId("pipeline-name").fill(name);
    await page.getByTestId("pipeline-name").blur();
    await expect(page.getByTestId("pipeline-problems")).toContainText("Add at least one step.", { timeout: 500 });
  }).toPass({ timeout: 15_000 });

  // Three steps, each after the one before.
  for (let i = 0; i < 3; i++) await page.getByTestId("add-step").click();
  await expect(page.getByTestId("step-editor")).toHaveCount(3);
  const steps = page.getByTestId("step-editor");
  // An empty command is a problem at its step, and the diagram marks it.
  await expect(steps.nth(0).getByTestId("step-problems")).toContainText("Give the command to run.");
  await expect(editor.locator('[data-testid="dag-node"]')).toHaveCount(3);
  for (const [i, step] of ["fetch", "clean", "train"].entries()) {
    await steps.nth(i).getByTestId("step-name").fill(step);
    await steps.nth(i).getByTestId("step-name").blur();
    await steps.nth(i).getByTestId("step-text").fill(`python -c "print('${step}')"`);
    await steps.nth(i).getByTestId("step-text").blur();
  }
  await expect(editor.locator('[data-testid="dag-node"][data-step="clean"]')).toBeVisible();
  await expect(editor.locator('path.dag-edge[data-from="fetch"][data-to="clean"]')).toHaveCount(1, { timeout: 5_000 });
  // A cycle is said at the steps on it, and undo takes it back.
  await steps.nth(0).getByTestId("step-after-add").fill("train");
  await steps.nth(0).getByTestId("step-after-add").blur();
  await expect(steps.nth(0).getByTestId("after-train")).toBeVisible();
  await expect(steps.nth(0).getByTestId("step-problems")).toContainText("part of a cycle");
  await expect(page.getByTestId("pipeline-save")).toBeDisabled();
  await page.getByTestId("undo").click();
  await expect(steps.nth(0).getByTestId("step-problems")).toBeEmpty();

  await page.getByTestId("pipeline-save").click();
  await expect(page.getByTestId("pipeline-saved")).toBeVisible();
  await page.getByTestId("pipeline-saved").getByRole("link").click();
  await expect(page.getByTestId("pipeline-title")).toHaveText(name);
  await expect(page.locator('[data-testid="dag-node"]')).toHaveCount(3);

  // Run it and follow it: the diagram goes green without a reload.
  await page.locator("body[data-hydrated]").waitFor();
  await expect(async () => {
    await page.getByTestId("run-pipeline").click();
    await expect(page.getByTestId("run-started")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await page.getByTestId("run-started").getByRole("link").click();
  await expect(page.getByTestId("run-phase")).toHaveText("Succeeded", { timeout: 90_000 });
  await expect(page.locator('[data-testid="dag-node"][data-phase="Succeeded"]')).toHaveCount(3);

  // A step's log, as Kubernetes serves it.
  await page.locator('[data-testid="step-state"][data-step="clean"] a').click();
  await expect(page.getByTestId("step-log")).toContainText("simulated container");

  // Run it again with the same values, from the ended run's page.
  const first = page.url();
  await page.locator("body[data-hydrated]").waitFor();
  await expect(async () => {
    await page.getByTestId("run-again").click();
    await expect(page).not.toHaveURL(first, { timeout: 2_000 });
  }).toPass({ timeout: 15_000 });
  await expect(page.getByTestId("run-phase")).toHaveText("Succeeded", { timeout: 90_000 });

  // Schedule it on weekday mornings in Berlin; the form shows when it will run.
  await page.goto(`/pipelines/team-a/p/${name}`);
  await page.locator("body[data-hydrated]").waitFor();
  const form = page.getByTestId("schedule-form");
  await expect(async () => {
    await form.getByTestId("schedule-cron").fill("0 6 * *");
    await expect(form.getByTestId("schedule-preview-error")).toContainText("five fields", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await form.getByTestId("schedule-cron").fill("0 6 * * 1-5");
  await form.getByTestId("schedule-zone").fill("Europe/Berlin");
  await expect(form.getByTestId("schedule-preview-times").locator("li")).toHaveCount(5);
  await expect(form.getByTestId("schedule-preview-times").locator("li").first()).toContainText("06:00 CE");
  await form.getByTestId("schedule-name").fill(`${name}-mornings`);
  await form.getByTestId("schedule-save").click();
  const row = page.locator(`[data-testid="schedule-row"][data-schedule="${name}-mornings"]`);
  await expect(row).toBeVisible({ timeout: 10_000 });
  await expect(row.getByTestId("schedule-next").locator("li")).toHaveCount(5);
  // Suspended, it says so.
  await page.locator("body[data-hydrated]").waitFor();
  await row.getByTestId("schedule-suspend").click();
  await expect(row).toHaveAttribute("data-suspended", "true", { timeout: 10_000 });
});

// From Elyra: dave imports a .pipeline file made in JupyterLab's Elyra
// editor. What the portal cannot keep is listed; a step whose image is not
// in the catalog is flagged until he picks one in the diagram's step form;
// the YAML tab shows the WorkflowTemplate. He saves and runs it, and reads a
// step's log after its pod is gone (kept in the object store).
test("dave imports an Elyra pipeline, fixes it, runs it and reads a log after the pod is gone", async ({ page }) => {
  const name = `elyra-${Date.now().toString(36)}`;
  const shell = new Shell(page);
  await shell.signInAt("/pipelines/team-a/new", "dave");
  await page.locator("body[data-hydrated]").waitFor();
  await expect(async () => {
    await page.getByTestId("elyra-import").setInputFiles(resolve(__dirname, "../fixtures/churn.pipeline"));
    await expect(page.getByTestId("import-report")).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 15_000 });
  const report = page.getByTestId("import-report");
  await expect(report).toContainText("Node “Download from URL” (url-catalog:5fa3a2b1) is not a generic");
  await expect(report).toContainText("Step “load-data”: “dependencies” is not kept.");
  const steps = page.getByTestId("step-editor");
  await expect(steps).toHaveCount(3);
  await expect(page.locator('path.dag-edge[data-from="load-data"][data-to="prepare-features"]')).toHaveCount(1);
  // The custom image is not in the catalog: said at its step until changed.
  const prepare = page.locator('[data-testid="step-editor"][data-step="prepare-features"]');
  await expect(prepare.getByTestId("step-problems")).toContainText("not a runtime image of the catalog");
  await prepare.getByTestId("step-image").selectOption("quay.io/jupyter/minimal-notebook:2025-06-02");
  await expect(prepare.getByTestId("step-problems")).toBeEmpty();
  await page.getByTestId("pipeline-name").fill(name);
  await page.getByTestId("pipeline-name").blur();

  // The YAML tab shows what Kubernetes will get; an edit there comes back.
  await page.getByTestId("tab-yaml").click();
  const yaml = page.getByTestId("pipeline-yaml");
  await expect(yaml).toHaveValue(/kind: WorkflowTemplate/);
  await expect(yaml).toHaveValue(/- nbconvert/);
  await yaml.fill((await yaml.inputValue()).replace("kind: WorkflowTemplate", "kind: Workflowtemplate"));
  await page.getByTestId("yaml-apply").click();
  await expect(page.getByTestId("yaml-error")).toContainText("not a WorkflowTemplate");
  await page.getByTestId("tab-diagram").click();
  await expect(page.locator('[data-testid="dag-node"]')).toHaveCount(3);

  await page.getByTestId("pipeline-save").click();
  await expect(page.getByTestId("pipeline-saved")).toBeVisible();
  await page.getByTestId("pipeline-saved").getByRole("link").click();
  await expect(page.getByTestId("pipeline-title")).toHaveText(name);
  const run = await startRun(page);
  await page.getByTestId("run-started").getByRole("link").click();
  await expect(page.getByTestId("run-phase")).toHaveText("Succeeded", { timeout: 90_000 });

  // Argo's pod GC (or a cleaned-up node) takes the pods; the log stays.
  await expect(async () => {
    await page.goto(`/pipelines/team-a/runs/${run}?step=train-model`);
    await expect(page.getByTestId("step-log-kept")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(async () => {
    kubectl("delete", "pods", "-n", "team-a", "-l", `workflows.argoproj.io/workflow=${run}`, "--grace-period=0", "--wait=true");
    expect(kubectl("get", "pods", "-n", "team-a", "-l", `workflows.argoproj.io/workflow=${run}`, "-o", "name")).toBe("");
  }).toPass({ timeout: 30_000 });
  await expect(async () => {
    await page.goto(`/pipelines/team-a/runs/${run}?step=train-model`);
    await expect(page.getByTestId("step-log-archived")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId("step-log")).toContainText("simulated container");
});

// From the book: dave starts from the model-training template (its steps
// already use the team's object storage), connects a step by dragging in
// the diagram, and follows a running step's log and its pod's events; the
// run says which notebooks it executed.
test("dave starts from the book's training template, connects a step by dragging and follows a running step", async ({ page }) => {
  const name = `tmpl-${Date.now().toString(36)}`;
  const shell = new Shell(page);
  await shell.signInAt("/pipelines/team-a", "dave");
  const template = page.locator('[data-testid="template"][data-template="flights-model"]');
  await expect(template).toContainText("Model training pipeline");
  await template.getByTestId("template-use").click();
  await expect(page.getByTestId("step-editor")).toHaveCount(4);
  await page.locator("body[data-hydrated]").waitFor();
  const register = page.locator('[data-testid="step-editor"][data-step="register"]');
  await expect(register.getByTestId("connection-object-storage")).toBeChecked();
  await expect(page.getByTestId("pipeline-problems")).toBeEmpty();
  await expect(async () => {
    await page.getByTestId("pipeline-name").fill(name);
    await page.getByTestId("pipeline-name").blur();
    // register no longer waits for evaluate: unconnected, and said so.
    const waits = register.getByTestId("after-evaluate");
    if (await waits.count()) await waits.getByTestId("after-remove").click({ timeout: 1_000 });
    await expect(register.getByTestId("step-problems")).toContainText("not connected", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  // Training asking for more than the team's whole quota is said at once.
  const train = page.locator('[data-testid="step-editor"][data-step="train"]');
  await train.getByTestId("step-cpu").fill("64");
  await train.getByTestId("step-cpu").blur();
  await expect(train.getByTestId("step-problems")).toContainText("It asks for 64 CPU; the team's quota allows 16 in all.");
  await train.getByTestId("step-cpu").fill("2");
  await train.getByTestId("step-cpu").blur();
  await expect(train.getByTestId("step-problems")).toBeEmpty();
  const diagram = page.getByTestId("editor-diagram");
  await expect(diagram.locator('path.dag-edge[data-from="evaluate"][data-to="register"]')).toHaveCount(0);
  // Dragged from evaluate to register in the diagram, it waits again.
  await diagram.locator('[data-testid="dag-node"][data-step="evaluate"]').dragTo(diagram.locator('[data-testid="dag-node"][data-step="register"]'));
  await expect(diagram.locator('path.dag-edge[data-from="evaluate"][data-to="register"]')).toHaveCount(1);
  await expect(page.getByTestId("drag-hint")).toHaveText("register now runs after evaluate.");
  await expect(register.getByTestId("after-evaluate")).toBeVisible();
  await expect(register.getByTestId("step-problems")).toBeEmpty();
  await page.getByTestId("pipeline-save").click();
  await expect(page.getByTestId("pipeline-saved")).toBeVisible();

  // On the node, training takes 20 s.
  kubectl("patch", "workflowtemplate", name, "-n", "team-a", "--type=json", "-p",
    JSON.stringify([{ op: "add", path: "/spec/templates/2/metadata/annotations/kwok.atrium.dev~1delay", value: "20s" }]));
  await page.getByTestId("pipeline-saved").getByRole("link").click();
  const run = await startRun(page);
  await expect(async () => {
    await page.goto(`/pipelines/team-a/runs/${run}?step=train`);
    await expect(page.getByTestId("step-log-live")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId("run-notebooks")).toContainText("flights/05-train.ipynb");
  await expect(page.locator('[data-testid="pod-event"][data-reason="Scheduled"]')).toBeVisible();
  // It keeps following until the step ends, then says the log is complete.
  await expect(page.getByTestId("step-log-live")).toBeHidden({ timeout: 60_000 });
  await expect(page.getByTestId("step-log")).toContainText("simulated container");
  await expect(page.getByTestId("run-phase")).toHaveText("Succeeded", { timeout: 60_000 });
});
