// End-to-end tests: Debian's Chromium driven by Playwright against the
// portal on the real local stack (Keycloak login included). ./test.sh
// starts the portal on ATRIUM_E2E_BASE_URL before running these.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  // One worker: the team flow changes memberships other specs assert exactly.
  workers: 1,
  retries: 0,
  reporter: [["list"], ["json", { outputFile: "test-results/results.json" }]],
  use: {
    baseURL: process.env.ATRIUM_E2E_BASE_URL ?? "http://localhost:3100",
    // Keycloak speaks HTTPS with the local stack's own CA.
    ignoreHTTPSErrors: true,
    screenshot: "only-on-failure",
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
