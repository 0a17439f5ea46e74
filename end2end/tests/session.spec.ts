import { expect, test } from "@playwright/test";
import { KeycloakLogin } from "../pages/keycloak";
import { Shell } from "../pages/shell";

test("a signed-out visit goes to sign-in and comes back to the page asked for", async ({ page }) => {
  const shell = new Shell(page);
  await shell.signInAt("/teams/team-a", "alice");
  await expect(page.getByTestId("team-title")).toHaveText("Team A");
  await expect(page.getByTestId("quota-pods")).toContainText("/ 40");
});

test("sign-out ends the session and the back button shows no private page", async ({ page }) => {
  const shell = new Shell(page);
  await shell.signInAt("/", "tom");
  await expect(page.getByTestId("greeting")).toBeVisible();
  await shell.signOut.click();
  await expect(page.getByTestId("plain-page-title")).toHaveText("Signed out");
  await page.goBack();
  // The private page is fetched again (no-store), and the session is gone.
  await new KeycloakLogin(page).expectShown();
  await expect(page.getByTestId("greeting")).toHaveCount(0);
  // Keycloak's session ended too: signing in asks for the password again.
  await page.goto("/");
  await new KeycloakLogin(page).expectShown();
});

test("a data scientist typing another team's address gets the 403 page and none of its data", async ({ page }) => {
  const shell = new Shell(page);
  await shell.signInAt("/", "alice");
  const response = await page.goto("/teams/team-b");
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId("error-title")).toHaveText("Not allowed");
  await expect(page.getByTestId("error-message")).toHaveText("You do not have access to this team.");
  const html = await response!.text();
  expect(html).not.toContain("Team B");
  await expect(page.locator("body")).not.toContainText("Team B");
});

test("the team switcher navigates in the browser (hydrated app)", async ({ page }) => {
  const shell = new Shell(page);
  await shell.signInAt("/", "paula");
  await shell.teamSwitcher.selectOption("team-b");
  await page.waitForURL("**/teams/team-b");
  await expect(page.getByTestId("team-title")).toHaveText("Team B");
  await page.getByTestId("nav-admin").click();
  await expect(page.getByTestId("admin-team-team-a")).toBeVisible();
  await expect(page.getByTestId("admin-team-team-b")).toBeVisible();
});
