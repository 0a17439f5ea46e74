// What each page makes the browser download, measured in Chromium from what
// it really fetched (not from file sizes), and checked against the budgets of
// docs/decisions/0013-per-area-code-loading.md:
//   - first load of any page: at most 250 KB gzip of WASM + JS + CSS;
//   - an area's own chunks (everything beyond the core) on any of its pages:
//     at most 150 KB gzip.
// Every page is opened in a fresh browser context (cold cache) by a person
// who may see it, and counted once the page is interactive.
//
//   node bench/site-size.mjs                 table + budgets (exit 1 when over)
//   node bench/site-size.mjs --tti /notebooks [--runs 10] [--vpn]
//                                            median time to interactive, cold cache;
//                                            --vpn: as over a laptop's VPN (Chromium's
//                                            throttling: 10 Mbit/s down, 40 ms latency)
//
// ATRIUM_E2E_BASE_URL is the portal (default http://localhost:3100).
import { BASE, launch, signIn } from "./browser.mjs";
import { writeFileSync, mkdirSync } from "node:fs";

const BUDGET_PAGE = 250 * 1000;
const BUDGET_AREA = 150 * 1000;
// Pages over the first-load budget for now, each with its own ceiling, as
// decision 0013 records (2026-11-30): the team's notebooks page, pushed over
// by core code that islands of *other* areas share (the splitter counts
// islands across the site, not per page; counting per page is the next
// change), and the pipeline editor, which grew an Elyra import/export and a
// YAML tab, then (2026-11-30, 287 KB) dragging to connect steps, data
// connections and the quota check per step, and (298 KB) forms that open
// when asked for, so a 200-step pipeline opens in under a second; the
// notebooks page's ceiling went from 255 to 257 KB when the models area's
// approvals and Try-it panel made the core 0.7 KB larger. Remove each once its page is
// back under BUDGET_PAGE.
const ALLOWANCES = new Map([
  ["/notebooks/team-a", 257 * 1000],
  ["/pipelines/team-a/new", 302 * 1000],
]);

// Page → a person who may open it.
const PAGES = [
  ["/", "alice"],
  ["/notebooks", "alice"],
  ["/notebooks/team-a", "alice"],
  ["/notebooks/team-a/new", "alice"],
  // No such notebook: the not-found page (a notebook's page needs one running).
  ["/notebooks/team-a/size-probe", "alice"],
  ["/experiments", "alice"],
  ["/experiments/team-a", "alice"],
  ["/pipelines", "dave"],
  ["/pipelines/team-a", "dave"],
  // The editor, the largest island of the pipelines area.
  ["/pipelines/team-a/new", "dave"],
  ["/pipelines/team-a/runs", "dave"],
  ["/models", "maria"],
  ["/models/team-b", "maria"],
  ["/teams", "tom"],
  ["/teams/team-a", "tom"],
  ["/teams/team-a/members", "tom"],
  ["/teams/team-a/quota", "tom"],
  ["/teams/team-a/audit", "tom"],
  ["/admin", "paula"],
  ["/admin/requests", "paula"],
  ["/admin/audit", "paula"],
  ["/admin/catalog", "paula"],
];

const kind = (url) => {
  const path = new URL(url).pathname;
  if (!path.startsWith("/pkg/")) return null;
  if (/\.(wasm|js|css)$/.test(path) === false) return null;
  const file = path.split("/").pop();
  const core = file === "atrium_bg.wasm" || file === "atrium.js" || file === "atrium.css" || file.startsWith("__wasm_split");
  return { file, core };
};

/** Opens `path` cold and returns every WASM/JS/CSS file the browser fetched. */
async function measure(browser, state, path) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, storageState: state });
  const page = await context.newPage();
  const fetched = [];
  page.on("requestfinished", async (request) => {
    const k = kind(request.url());
    if (!k) return;
    const response = await request.response();
    const sizes = await request.sizes();
    const body = await response.body().catch(() => Buffer.alloc(0));
    fetched.push({ ...k, transfer: sizes.responseBodySize, raw: body.length, encoding: response.headers()["content-encoding"] ?? "" });
  });
  await page.goto(`${BASE}${path}`);
  await page.locator("body[data-hydrated]").waitFor({ timeout: 30_000 });
  await page.waitForLoadState("networkidle");
  await context.close();
  return fetched;
}

const kb = (n) => (n / 1000).toFixed(1);

async function table() {
  const browser = await launch();
  const states = {};
  const rows = [];
  for (const [path, user] of PAGES) {
    states[user] ??= await signIn(browser, user);
    const files = await measure(browser, states[user], path);
    const sum = (xs, f) => xs.reduce((a, x) => a + x[f], 0);
    const core = files.filter((f) => f.core);
    const chunks = files.filter((f) => !f.core);
    const notGzip = files.filter((f) => f.encoding !== "gzip" && f.raw > 1000).map((f) => f.file);
    rows.push({
      path,
      user,
      area: path.split("/")[1] || "home",
      files: files.length,
      raw: sum(files, "raw"),
      gzip: sum(files, "transfer"),
      core_gzip: sum(core, "transfer"),
      chunks_gzip: sum(chunks, "transfer"),
      chunks: chunks.map((c) => c.file).sort(),
      not_gzip: notGzip,
    });
  }
  await browser.close();

  const over = [];
  console.log("page".padEnd(32), "user".padEnd(6), "files", "raw KB".padStart(8), "gzip KB".padStart(8), "core".padStart(7), "area".padStart(7), " status");
  for (const r of rows) {
    const ceiling = ALLOWANCES.get(r.path) ?? BUDGET_PAGE;
    const withinBudget = r.gzip <= ceiling && r.chunks_gzip <= BUDGET_AREA;
    const status = !withinBudget ? "OVER" : r.gzip > BUDGET_PAGE ? `ok (allowance ${kb(ceiling)} KB)` : "ok";
    if (!withinBudget) over.push(`${r.path} (${kb(r.gzip)} KB, area ${kb(r.chunks_gzip)} KB)`);
    console.log(
      r.path.padEnd(32), r.user.padEnd(6), String(r.files).padStart(5), kb(r.raw).padStart(8), kb(r.gzip).padStart(8),
      kb(r.core_gzip).padStart(7), kb(r.chunks_gzip).padStart(7), " " + status,
    );
    if (r.not_gzip.length) over.push(`${r.path}: sent uncompressed: ${r.not_gzip.join(", ")}`);
  }
  console.log(`budgets: first load <= ${kb(BUDGET_PAGE)} KB gzip (WASM + JS + CSS); area chunks <= ${kb(BUDGET_AREA)} KB gzip`);
  for (const [path, ceiling] of ALLOWANCES) console.log(`  allowance (decision 0013): ${path} first load <= ${kb(ceiling)} KB`);
  mkdirSync(".stack", { recursive: true });
  writeFileSync(".stack/site-size.json", JSON.stringify(rows, null, 2));
  if (over.length) {
    console.error(`over budget: ${over.join("; ")}`);
    process.exit(1);
  }
}

async function tti(path, runs, vpn) {
  const browser = await launch();
  const state = await signIn(browser, "alice");
  const times = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, storageState: state });
    const page = await context.newPage();
    if (vpn) {
      const cdp = await context.newCDPSession(page);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", {
        offline: false, latency: 40, downloadThroughput: (10e6 / 8), uploadThroughput: (5e6 / 8),
      });
    }
    // Time from navigation start until the app has hydrated the page.
    await page.addInitScript(() => {
      new MutationObserver((_, obs) => {
        if (document.body?.hasAttribute("data-hydrated")) {
          window.__hydratedAt = performance.now();
          obs.disconnect();
        }
      }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
    });
    await page.goto(`${BASE}${path}`);
    await page.locator("body[data-hydrated]").waitFor({ timeout: 30_000 });
    times.push(await page.evaluate(() => window.__hydratedAt));
    await context.close();
  }
  await browser.close();
  times.sort((a, b) => a - b);
  const median = (times[(runs - 1) >> 1] + times[runs >> 1]) / 2;
  console.log(`time to interactive ${path}${vpn ? " over a 10 Mbit/s, 40 ms link" : ""}, cold cache, ${runs} loads: median ${median.toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times[runs - 1].toFixed(0)})`);
}

const args = process.argv.slice(2);
if (args[0] === "--tti") {
  const runs = args.includes("--runs") ? Number(args[args.indexOf("--runs") + 1]) : 10;
  await tti(args[1] ?? "/notebooks", runs, args.includes("--vpn"));
} else {
  await table();
}
