import { execFileSync } from "node:child_process";
import { expect, test, type Browser } from "@playwright/test";
import { Shell } from "../pages/shell";

// The whole team life cycle across three people, each in their own browser:
// platform admin creates a team, its admin adds a data scientist, asks for
// more GPUs, the platform admin approves, and the audit trail shows it all.

async function signedIn(browser: Browser, user: string, path = "/"): Promise<Shell> {
  const context = await browser.newContext();
  const shell = new Shell(await context.newPage());
  await shell.signInAt(path, user);
  return shell;
}

const team = `e2e-${Date.now().toString(36)}`;

// Whatever happens, the cluster is left as the other specs expect it.
test.afterAll(() => {
  const bin = process.env.STACK_BIN;
  const kubeconfig = process.env.STACK_ADMIN_KUBECONFIG;
  if (bin && kubeconfig) {
    execFileSync(bin, ["kubectl", `--kubeconfig=${kubeconfig}`, "delete", "namespace", team, "--ignore-not-found", "--wait=false"]);
  }
});

test("create a team, add a member, ask for GPUs, approve, audit", async ({ browser }) => {
  test.setTimeout(120_000);
  // People are known to the portal once they have signed in.
  const aliceShell = await signedIn(browser, "alice");
  const tomShell = await signedIn(browser, "tom");
  const paulaShell = await signedIn(browser, "paula", "/admin");
  const [alice, tom, paula] = [aliceShell.page, tomShell.page, paulaShell.page];

  await paula.getByTestId("create-team-open").click();
  await paula.getByTestId("team-name").fill(team);
  await paula.getByTestId("team-display").fill("E2E Team");
  await paula.getByTestId("team-admin").fill("tom");
  await paula.getByTestId("create-team-submit").click();
  await expect(paula.getByTestId("create-team-result")).toHaveText("Team created.");
  await expect(paula.getByTestId(`admin-team-${team}`)).toBeVisible();

  await tomShell.open(`/teams/${team}/members`);
  await expect(tom.getByTestId("member-tom")).toContainText("Team admin");
  await tom.getByTestId("add-name").fill("alice");
  await tom.getByTestId("add-persona-data-scientist").check();
  await tom.getByTestId("add-submit").click();
  await expect(tom.getByTestId("members-result")).toHaveText("Saved.");
  await expect(tom.getByTestId("member-alice")).toContainText("Data scientist");

  // Change her personas in place.
  const aliceRow = tom.getByTestId("member-alice");
  await aliceRow.getByTestId("edit-member").click();
  await aliceRow.getByTestId("edit-persona-ml-engineer").check();
  await aliceRow.getByTestId("save-member").click();
  await expect(tom.getByTestId("member-alice")).toContainText("ML engineer");
  await expect(tom.getByTestId("member-alice")).toContainText("Data scientist");

  // Someone who never signed in cannot be added.
  await tom.getByTestId("add-name").fill("nobody-here");
  await tom.getByTestId("add-persona-data-scientist").check();
  await tom.getByTestId("add-submit").click();
  await expect(tom.getByTestId("members-result")).toContainText("has signed in to Atrium yet");

  await aliceShell.open("/");
  await expect(alice.getByTestId(`team-${team}`)).toContainText("E2E Team");

  // Now in two teams, she gets one "New notebook" control that asks which.
  await aliceShell.open("/notebooks");
  await expect(alice.getByTestId("new-notebook")).toHaveCount(1);
  await alice.getByLabel("Team of the new notebook").selectOption(team);
  await alice.getByTestId("new-notebook").click();
  await alice.waitForURL(`**/notebooks/${team}/new`);

  await tomShell.open(`/teams/${team}/quota`);
  const gpus = tom.getByTestId("quota-row-requests.nvidia.com/gpu");
  await expect(gpus.getByTestId("ceiling")).toHaveText("4");
  // Over the ceiling is refused before anything is written.
  await gpus.getByTestId("limit").fill("5");
  await tom.getByTestId("quota-save").click();
  await expect(tom.getByTestId("quota-result")).toContainText("above this team's ceiling of 4");
  await tom.getByTestId("request-resource").selectOption("requests.nvidia.com/gpu");
  await tom.getByTestId("request-amount").fill("6");
  await tom.getByTestId("request-reason").fill("Fine-tuning needs six GPUs this month.");
  await tom.getByTestId("request-submit").click();
  await expect(tom.getByTestId("request-result")).toHaveText("Saved.");
  await expect(tom.getByTestId("requests")).toContainText("pending");

  await paulaShell.open("/admin/requests");
  const card = paula.getByTestId(`pending-${team}`);
  await expect(card).toContainText("Fine-tuning needs six GPUs");
  await card.getByTestId("approve").click();
  await expect(paula.getByTestId("decide-result")).toHaveText("Decided.");

  await tomShell.open(`/teams/${team}/quota`);
  await expect(gpus.getByTestId("limit")).toHaveValue("6");
  await expect(tom.getByTestId("requests")).toContainText("approved");

  await tomShell.open(`/teams/${team}/audit`);
  const actions = tom.getByTestId("audit-row-action");
  await expect(actions).toContainText(["quota.approve", "quota.request", "member.change", "member.add", "team.create"]);

  // Tidy up: find the team among all of them, and retire it, typing its name.
  await paulaShell.open("/admin");
  await paula.getByTestId("admin-search").fill(team);
  await expect(paula.getByTestId("admin-teams-count")).toHaveText("Showing 1–1 of 1");
  await paula.getByTestId(`manage-${team}`).click();
  await paula.getByTestId(`retire-open-${team}`).click();
  await expect(paula.getByTestId("holdings")).toContainText("volumes");
  await paula.getByTestId(`admin-team-${team}`).getByTestId("retire-typed").fill(team);
  await paula.getByTestId(`admin-team-${team}`).getByTestId("retire-submit").click();
  await expect(paula.getByTestId(`admin-team-${team}`)).toHaveCount(0);
});
