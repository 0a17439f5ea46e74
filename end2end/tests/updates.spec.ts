import { expect, test } from "@playwright/test";
import { Shell } from "../pages/shell";

// Each area's code is a separate download, fetched when a page of it is first
// visited. After a redeploy the folder of the build a browser started with is
// gone, so that download fails: the page must say so, not go blank.
test("a page whose area cannot be downloaded any more says Atrium was updated, and reloading recovers", async ({ page }) => {
  const shell = new Shell(page);
  await shell.signInAt("/", "alice");
  // The area chunks of this build are gone (what a redeploy does to an open tab).
  let refused = 0;
  const areaChunks = /\/pkg\/[^/]+\/(chunk_|split_)[^/]*\.wasm$/;
  await page.route(areaChunks, (route) => {
    refused += 1;
    return route.fulfill({ status: 404, body: "not found" });
  });
  await shell.nav.getByRole("link", { name: "Notebooks" }).click();
  const notice = page.getByTestId("update-notice");
  await expect(notice).toBeVisible();
  await expect(notice).toContainText("Atrium was updated — reload to continue.");
  expect(refused).toBeGreaterThan(0);

  // Reloading fetches the current build: the page asked for opens.
  await page.unroute(areaChunks);
  await notice.getByRole("link", { name: "Reload" }).click();
  await page.locator("body[data-hydrated]").waitFor();
  await expect(page).toHaveURL(/\/notebooks$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Notebooks");
  await expect(page.getByTestId("update-notice")).toHaveCount(0);
});
