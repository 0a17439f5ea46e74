// The pipelines area in Chromium (issue 12's browser figures), as dave on
// the local stack:
//   1. a 200-step pipeline opens in the editor: from navigation to the
//      diagram drawn with its 200 steps and the editor answering an edit of
//      a step (target ≤ 1 s), cold (new browser context) and warm;
//   2. checking it as one types, in the browser's WASM: from an edit that
//      makes a problem to the problem shown at its step, and back (≤ 50 ms);
//   3. a step's state reaching the run page: for each step of a running
//      10-step pipeline, the time its new phase shows in the page minus the
//      time a watch of the API server (kubectl get -w) delivered it (≤ 1 s).
// Removes what it made.
//
//   node bench/pipelines-browser.mjs     (ATRIUM_E2E_BASE_URL, default http://localhost:3100;
//                                          STACK_BIN and STACK_ADMIN_KUBECONFIG from .stack/stack.env)
import { BASE, launch, signIn } from "./browser.mjs";
import { execFileSync, spawn } from "node:child_process";

const RUNS = Number(process.env.ATRIUM_BENCH_BROWSER_RUNS ?? 10);
const kubectlArgs = (...args) => ["kubectl", `--kubeconfig=${process.env.STACK_ADMIN_KUBECONFIG}`, ...args];
const kubectl = (...args) => execFileSync(process.env.STACK_BIN, kubectlArgs(...args), { encoding: "utf8" });

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))];
};
const line = (what, xs, unit = "ms") =>
  console.log(`${what}: p50 ${pct(xs, 0.5).toFixed(1)} ${unit}, p90 ${pct(xs, 0.9).toFixed(1)} ${unit}, max ${Math.max(...xs).toFixed(1)} ${unit} (n=${xs.length})`);

/** Saves a pipeline as dave through the portal's own server function. */
async function save(context, pipeline) {
  const res = await context.request.post(`${BASE}/api/pipeline-save`, {
    headers: { Origin: BASE },
    data: { team: "team-a", pipeline, new: true },
  });
  if (!res.ok()) throw new Error(`saving ${pipeline.name}: ${res.status()} ${await res.text()}`);
}

const step = (name, image, after) => ({
  name, image, work: { Command: `python -c 'print("${name}")'` }, after, env: [], connections: [],
  cpu: "100m", memory: "128Mi", gpus: 0, retries: 0, timeout_seconds: null,
});

const browser = await launch();
const state = await signIn(browser, "dave");
const stamp = Date.now().toString(36);
const big = `bench-big-${stamp}`;
const chain = `bench-chain-${stamp}`;
try {
  const context = await browser.newContext({ storageState: state });
  const choices = await (await context.request.post(`${BASE}/api/pipeline-images`, { headers: { Origin: BASE }, form: { team: "team-a" } })).json();
  const image = choices.images[0];
  // 200 steps, each after the two before it.
  const steps = Array.from({ length: 200 }, (_, i) => step(`s${i}`, image, [i - 2, i - 1].filter((j) => j >= 0).map((j) => `s${j}`)));
  await save(context, { name: big, description: "bench", params: [], steps });

  // 1. Opening it in the editor.
  // Times from navigation: the server's page complete (DOMContentLoaded),
  // the island hydrated, and the editor answering an edit.
  const parts = { loaded: [], hydrated: [] };
  const open = async (page) => {
    const t0 = Date.now();
    await page.goto(`${BASE}/pipelines/team-a/new?edit=${big}`, { waitUntil: "domcontentloaded" });
    parts.loaded.push(Date.now() - t0);
    await page.locator('[data-testid="editor-diagram"] [data-testid="dag-node"]').nth(199).waitFor();
    await page.locator("body[data-hydrated]").waitFor();
    // The island answers: an edit shows its problem at the step.
    // (A pipeline this large shows a step's form when it is asked for.)
    const first = page.locator('[data-testid="step-editor"]').first();
    await expect200(async () => {
      if (await first.getByTestId("step-open").count()) await first.getByTestId("step-open").click();
      await first.getByTestId("step-text").fill("", { timeout: 200 });
      await first.getByTestId("step-text").blur();
      await first.getByTestId("step-problems").getByText("Give the command to run.").waitFor({ timeout: 200 });
    });
    parts.hydrated.push(Date.now() - t0);
    return Date.now() - t0;
  };
  // Retries `f` until it passes (the island may still be loading its code).
  const expect200 = async (f) => {
    for (let i = 0; ; i++) {
      try {
        return await f();
      } catch (e) {
        if (i > 100) throw e;
      }
    }
  };
  const cold = [];
  for (let i = 0; i < Math.min(RUNS, 5); i++) {
    const c = await browser.newContext({ storageState: state });
    cold.push(await open(await c.newPage()));
    await c.close();
  }
  const page = await context.newPage();
  await open(page);
  const warm = [];
  for (let i = 0; i < RUNS; i++) warm.push(await open(page));
  line("200-step pipeline opened in the editor, cold cache", cold);
  line("200-step pipeline opened in the editor, warm cache", warm);
  line("  of which the page itself (DOMContentLoaded)", parts.loaded);

  // 2. Checking it as one types, measured inside the page.
  await page.locator('[data-testid="step-editor"][data-step="s100"]').getByTestId("step-open").click();
  await page.locator('[data-testid="step-editor"][data-step="s100"] [data-testid="step-text"]').waitFor();
  const check = await page.evaluate(async (n) => {
    const area = document.querySelector('[data-testid="step-editor"][data-step="s100"] [data-testid="step-text"]');
    const problems = document.querySelector('[data-testid="step-editor"][data-step="s100"] [data-testid="step-problems"]');
    const until = (ok) => new Promise((resolve) => {
      if (ok()) return resolve();
      const o = new MutationObserver(() => { if (ok()) { o.disconnect(); resolve(); } });
      o.observe(problems, { childList: true, subtree: true, characterData: true });
    });
    const times = [];
    for (let i = 0; i < n; i++) {
      for (const [value, shown] of [["echo 'open", true], [`python -c 'print(${i})'`, false]]) {
        const t0 = performance.now();
        area.value = value;
        area.dispatchEvent(new Event("change", { bubbles: true }));
        await until(() => problems.textContent.includes("never closed") === shown);
        times.push(performance.now() - t0);
      }
    }
    return times;
  }, 20);
  line("an edit of a 200-step pipeline checked and shown at its step (WASM)", check);

  // 3. Status latency: 10 steps in a row, each about 2 s on kwok.
  const names = Array.from({ length: 10 }, (_, i) => `c${i}`);
  await save(context, { name: chain, description: "bench", params: [], steps: names.map((n, i) => step(n, image, i ? [names[i - 1]] : [])) });
  const run = JSON.parse(await (await context.request.post(`${BASE}/api/pipeline-run`, {
    headers: { Origin: BASE }, data: { team: "team-a", name: chain, params: [] },
  })).text());
  const seenByApi = new Map();
  // The API server's own watch of the run, one JSON event per line.
  const watch = spawn(process.env.STACK_BIN, kubectlArgs("get", "--raw",
    `/apis/argoproj.io/v1alpha1/namespaces/team-a/workflows?watch=1&fieldSelector=metadata.name%3D${run}`));
  watch.stdout.setEncoding("utf8");
  let buffered = "";
  watch.stdout.on("data", (chunk) => {
    const now = Date.now();
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop();
    for (const l of lines) {
      if (!l.trim()) continue;
      const nodes = JSON.parse(l).object?.status?.nodes ?? {};
      for (const n of Object.values(nodes)) {
        const key = `${n.displayName}=${n.phase}`;
        if (!seenByApi.has(key)) seenByApi.set(key, now);
      }
    }
  });
  const runPage = await context.newPage();
  await runPage.goto(`${BASE}/pipelines/team-a/runs/${run}`);
  await runPage.locator("body[data-hydrated]").waitFor();
  await runPage.evaluate(() => {
    window.__seen = new Map();
    const note = () => {
      const now = Date.now();
      for (const row of document.querySelectorAll('[data-testid="step-state"]')) {
        const key = `${row.dataset.step}=${row.dataset.phase}`;
        if (!window.__seen.has(key)) window.__seen.set(key, now);
      }
    };
    note();
    // States already there when the page opened are not changes it saw.
    window.__initial = [...window.__seen.keys()];
    new MutationObserver(note).observe(document.body, { childList: true, subtree: true, attributes: true });
  });
  await runPage.getByTestId("run-phase").getByText(/Succeeded|Failed|Error/).waitFor({ timeout: 180_000 });
  const [entries, initial] = await runPage.evaluate(() => [[...window.__seen.entries()], window.__initial]);
  const seenInPage = new Map(entries.filter(([key]) => !initial.includes(key)));
  watch.kill();
  const lags = [];
  for (const [key, at] of seenInPage) {
    const [stepName, phase] = key.split("=");
    // Only changes that happened while the page was open, for real phases.
    if (!names.includes(stepName) || !["Running", "Succeeded", "Failed"].includes(phase)) continue;
    const api = seenByApi.get(key);
    if (api !== undefined) lags.push(at - api);
  }
  if (!lags.length) throw new Error(`no state change matched: page ${JSON.stringify([...seenInPage])}, API ${JSON.stringify([...seenByApi])}`);
  line("a step's new state shown on the run page after the API server's watch has it", lags);
  await context.close();
} finally {
  await browser.close();
  for (const name of [big, chain]) {
    try {
      kubectl("delete", "workflows", "-n", "team-a", "-l", `workflows.argoproj.io/workflow-template=${name}`, "--wait=false");
      kubectl("delete", "workflowtemplate", name, "-n", "team-a", "--wait=false");
    } catch (e) {
      console.error(`cleaning ${name}: ${e.message}`);
    }
  }
}
