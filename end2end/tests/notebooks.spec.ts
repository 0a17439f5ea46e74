import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { expect, test } from "@playwright/test";
import { kubectl } from "../pages/kubectl";
import { Shell } from "../pages/shell";

// A data scientist's notebook, start to end, in team A: created from the
// catalog, seen going Running live, opened (JupyterLab on the notebook's own
// origin, a kernel over WebSockets), stopped, started, deleted keeping its
// volume.
// The local stack's pods do not really run, so this spec starts a real
// JupyterLab for the notebook's path and tells the portal its address.

const team = "team-a";
const name = `e2e-nb-${Date.now().toString(36)}`;
const repo = resolve(__dirname, "../..");
let lab: ChildProcess | undefined;

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

// The kubelet would hand the pod its token from the notebook's Secret; here
// a real JupyterLab gets it the same way, and the portal learns its address.
async function serveJupyterLab(): Promise<void> {
  const token = Buffer.from(kubectl("get", "secret", "-n", team, `${name}-jupyter`, "-o", "jsonpath={.data.token}"), "base64").toString();
  // And MLflow's variables, as the pod's spec names them (the token from its Secret).
  const env = (key: string) =>
    kubectl("get", "statefulset", "-n", team, name, "-o", `jsonpath={.spec.template.spec.containers[0].env[?(@.name=="${key}")].value}`);
  const mlflowToken = Buffer.from(kubectl("get", "secret", "-n", team, `${name}-mlflow`, "-o", "jsonpath={.data.token}"), "base64").toString();
  const port = await freePort();
  lab = spawn("bash", [`${repo}/scripts/jupyter.sh`, "serve", team, name, String(port)], {
    stdio: "ignore",
    env: {
      ...process.env,
      JUPYTER_TOKEN: token,
      MLFLOW_TRACKING_URI: env("MLFLOW_TRACKING_URI"),
      MLFLOW_WORKSPACE: env("MLFLOW_WORKSPACE"),
      MLFLOW_TRACKING_TOKEN: mlflowToken,
    },
  });
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/notebook/${team}/${name}/api/status`, { headers: { authorization: `token ${token}` } });
      if (res.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  const map = process.env.ATRIUM_E2E_UPSTREAM_MAP!;
  const current = JSON.parse(readFileSync(map, "utf8"));
  current[`${team}/${name}`] = `http://127.0.0.1:${port}`;
  writeFileSync(map, JSON.stringify(current));
}

test.afterAll(() => {
  lab?.kill();
  for (const kind of ["statefulset", "service", "pvc", "secret"]) {
    kubectl("delete", kind, "-n", team, "-l", `atrium.io/notebook=${name}`, "--ignore-not-found", "--wait=false");
  }
});

test("create from the catalog, watch it run, open JupyterLab, stop, start, delete keeping the volume", async ({ browser }) => {
  test.setTimeout(180_000);
  const shell = new Shell(await (await browser.newContext()).newPage());
  const page = shell.page;
  await shell.signInAt(`/notebooks/${team}`, "alice");
  await page.getByTestId("new-notebook").click();
  await page.locator("body[data-hydrated]").waitFor();

  // The name is checked as it is typed.
  await page.getByTestId("nb-name").fill("My_Notebook");
  await expect(page.getByTestId("nb-name-error")).toHaveText("Use lowercase letters only.");
  await page.getByTestId("nb-name").fill(name);
  await expect(page.getByTestId("nb-name-error")).toHaveCount(0);
  await expect(page.getByTestId("nb-image")).toHaveCount(3);
  await page.getByTestId("nb-vol-size").fill("2Gi");

  await page.getByTestId("nb-show-yaml").click();
  const yaml = page.getByTestId("nb-yaml");
  await expect(yaml).toContainText("kind: StatefulSet");
  await expect(yaml).toContainText(`name: ${name}-workspace`);
  await expect(yaml).toContainText("storage: 2Gi");

  await page.getByTestId("nb-create").click();
  await page.waitForURL(`**/notebooks/${team}/${name}`);
  await page.locator("body[data-hydrated]").waitFor();
  // From here on the page is never reloaded: status arrives over the live stream.
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  await expect(page.getByTestId("nb-phase")).toHaveText("Running", { timeout: 30_000 });

  await serveJupyterLab();

  // Open JupyterLab on the notebook's own origin, with no second sign-in, and run a cell.
  const [jupyter] = await Promise.all([page.context().waitForEvent("page"), page.getByTestId("nb-open").click()]);
  await jupyter.waitForLoadState();
  const portal = new URL(page.url());
  const opened = new URL(jupyter.url());
  expect(opened.host).toBe(`${team}--${name}.localhost:${portal.port}`);
  expect(opened.pathname).toBe(`/notebook/${team}/${name}/lab`);
  await jupyter.locator(".jp-LauncherCard[data-category='Notebook']").first().click({ timeout: 60_000 });
  // The kernel is reached over a WebSocket through the portal.
  await expect(jupyter.locator(".jp-StatusBar-Widget", { hasText: "Idle" }).first()).toBeVisible({ timeout: 60_000 });
  const cell = jupyter.locator(".jp-Notebook .jp-Cell .cm-content").first();
  await cell.click();
  await jupyter.keyboard.type("6 * 7");
  await jupyter.keyboard.press("Shift+Enter");
  await expect(jupyter.locator(".jp-OutputArea-output").first()).toHaveText("42", { timeout: 60_000 });
  // A small training run, logged with nothing but the notebook's variables.
  await jupyter.locator(".jp-Notebook .jp-Cell .cm-content").last().click();
  await jupyter.keyboard.type(
    `import mlflow; mlflow.set_experiment('${name}'); run = mlflow.start_run(run_name='from-kernel'); ` +
      `[mlflow.log_metric('loss', 1 / (s + 1), step=s) for s in range(5)]; mlflow.log_param('lr', 0.01); mlflow.end_run(); print('logged', run.info.run_id)`,
  );
  await jupyter.keyboard.press("Shift+Enter");
  await expect(jupyter.locator(".jp-OutputArea-output", { hasText: "logged" })).toBeVisible({ timeout: 60_000 });

  // Whatever script the notebook serves cannot act as the person on the
  // portal: a server function called from its origin is refused, and the
  // portal's cookie cannot be overwritten from there.
  const outcome = await jupyter.evaluate(
    async ({ portal, team, name }) => {
      document.cookie = "atrium_session=forged; domain=localhost; path=/";
      try {
        const res = await fetch(`${portal}/api/notebook-running`, {
          method: "POST",
          credentials: "include",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `team=${team}&name=${name}&running=false`,
        });
        return `answered ${res.status}`;
      } catch {
        return "blocked";
      }
    },
    { portal: portal.origin, team, name },
  );
  expect(outcome).not.toBe("answered 200");
  expect(kubectl("get", "statefulset", "-n", team, name, "-o", "jsonpath={.spec.replicas}")).toBe("1");
  await jupyter.close();
  const cookies = await page.context().cookies(portal.origin);
  expect(cookies.find((c) => c.name === "atrium_session")?.value).not.toBe("forged");

  await page.getByTestId("nb-stop").click();
  await expect(page.getByTestId("nb-phase")).toHaveText("Stopped", { timeout: 30_000 });
  await page.getByTestId("nb-start").click();
  await expect(page.getByTestId("nb-phase")).toHaveText("Running", { timeout: 30_000 });
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);

  await page.getByTestId("nb-delete").click();
  await expect(page.getByTestId("nb-delete-dialog")).toContainText(`Keep the volume “${name}-workspace”`);
  await expect(page.getByTestId("nb-keep-volume")).toBeChecked();
  await page.getByTestId("nb-delete-confirm").click();
  await page.waitForURL(`**/notebooks/${team}`);
  await expect(page.locator(`[data-testid=nb-row][data-name=${name}]`)).toHaveCount(0);
  expect(kubectl("get", "pvc", "-n", team, `${name}-workspace`, "-o", "name").trim()).toBe(
    `persistentvolumeclaim/${name}-workspace`,
  );

  // The run the kernel logged is on her team's experiments, with its notebook.
  await shell.open(`/experiments/${team}`);
  await page.locator(`[data-testid="exp-row"][data-name="${name}"]`).getByRole("link", { name }).click();
  const row = page.getByTestId("run-row").filter({ hasText: "from-kernel" });
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId("run-notebook")).toHaveText(`notebook ${name}`);
  await row.getByRole("link", { name: "from-kernel" }).click();
  await expect(page.locator('[data-testid="chart"][data-metric="loss"] polyline')).toHaveAttribute("data-points", "5");
});

test("a notebook over the team's GPU quota is refused before anything is created", async ({ browser }) => {
  const shell = new Shell(await (await browser.newContext()).newPage());
  const page = shell.page;
  const greedy = `${name}-gpu`;
  await shell.signInAt(`/notebooks/${team}/new`, "alice");
  await page.getByTestId("nb-name").fill(greedy);
  await page.locator("[data-testid=nb-image][value=pytorch-cuda]").check();
  await page.getByTestId("nb-gpus").fill("3");
  await page.getByTestId("nb-create").click();
  await expect(page.getByTestId("nb-create-error")).toContainText("GPUs: asked 3");
  await expect(page.getByTestId("nb-create-error")).toContainText("left of 2");
  expect(kubectl("get", "statefulset,service,pvc,pod", "-n", team, "-l", `atrium.io/notebook=${greedy}`, "-o", "name").trim()).toBe("");
});

test("a platform admin edits the catalog; bad entries are refused; data scientists see the change", async ({ browser }) => {
  const paulaShell = new Shell(await (await browser.newContext()).newPage());
  const paula = paulaShell.page;
  await paulaShell.signInAt("/admin/catalog", "paula");
  const firstSize = paula.getByTestId("catalog-size").first();
  await firstSize.getByTestId("size-memory-limit").fill("lots");
  await expect(paula.getByTestId("catalog-problems")).toContainText("the memory limit “lots” is not a quantity");
  await paula.getByTestId("catalog-save").click();
  await expect(paula.getByTestId("catalog-result")).toContainText("the memory limit “lots” is not a quantity");

  await firstSize.getByTestId("size-memory-limit").fill("2Gi");
  const second = paula.getByTestId("catalog-image").nth(1);
  await second.getByTestId("img-name").fill("Data science (e2e)");
  await paula.getByTestId("catalog-save").click();
  await expect(paula.getByTestId("catalog-result")).toHaveText("Catalog saved. New notebooks offer these entries.");

  const aliceShell = new Shell(await (await browser.newContext()).newPage());
  await aliceShell.signInAt(`/notebooks/${team}/new`, "alice");
  await expect(aliceShell.page.getByText("Data science (e2e)")).toBeVisible();

  // Put the catalog back as the other specs expect it.
  await second.getByTestId("img-name").fill("Data science");
  await paula.getByTestId("catalog-save").click();
  await expect(paula.getByTestId("catalog-result")).toHaveText("Catalog saved. New notebooks offer these entries.");
});

test("a data connection added on the team's page is offered to new notebooks, keys never shown", async ({ browser }) => {
  const shell = new Shell(await (await browser.newContext()).newPage());
  const page = shell.page;
  const conn = `${name}-s3`;
  await shell.signInAt(`/notebooks/${team}`, "alice");
  await page.getByTestId("connection-add").click();
  await page.getByTestId("connection-name").fill(conn);
  await page.getByTestId("connection-endpoint").fill("s3.example.org");
  await expect(page.getByTestId("connections")).toContainText("is not an http(s) address");
  await page.getByTestId("connection-endpoint").fill("https://s3.example.org");
  await page.getByTestId("connection-bucket").fill("raw");
  await page.getByTestId("connection-access-key").fill("AKIAE2E");
  await page.getByTestId("connection-secret-key").fill("e2e-secret-value");
  await page.getByTestId("connection-save").click();
  await expect(page.getByTestId("connection-result")).toHaveText("Data connection saved.");
  const row = page.locator(`[data-testid=connection-row][data-name="${conn}"]`);
  await expect(row).toContainText("https://s3.example.org");
  expect(await page.content()).not.toContain("e2e-secret-value");

  await shell.open(`/notebooks/${team}/new`);
  await expect(page.getByTestId("nb-form")).toContainText(conn);

  await shell.open(`/notebooks/${team}`);
  await row.getByTestId("connection-delete").click();
  await expect(row).toHaveCount(0);
});
