// What the Chromium benches share: the browser they launch and signing a
// person in once through the real Keycloak page.
import { chromium } from "@playwright/test";

export const BASE = process.env.ATRIUM_E2E_BASE_URL ?? "http://localhost:3100";
const PASSWORD = "atrium-demo";

export const launch = () =>
  chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
  });

/** Signs `user` in once; returns the cookies (a storage state) for new contexts. */
export async function signIn(browser, user) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${BASE}/`);
  await page.locator("#username").fill(user);
  await page.locator("#password").fill(PASSWORD);
  await page.locator("#kc-login").click();
  await page.waitForURL((u) => u.origin === new URL(BASE).origin && u.pathname === "/");
  await page.locator("body[data-hydrated]").waitFor();
  const state = await context.storageState();
  await context.close();
  return state;
}
