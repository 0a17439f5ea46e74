import { expect, test } from "@playwright/test";
import { HomePage } from "../pages/home";
import { Shell } from "../pages/shell";

// Each demo persona sees exactly the navigation Kubernetes allows them and
// exactly their teams, listed by calling Kubernetes as that person; on a
// team's page, only the tabs they may open (Members and Audit are its
// admins' and platform admins').
const some = ["Overview", "Quota"];
const all = ["Overview", "Members", "Quota", "Audit"];
const personas = [
  { user: "alice", name: "Alice Scientist", nav: ["Notebooks", "Experiments"], personas: ["Data scientist"], teams: ["Team A"], team: "team-a", tabs: some },
  { user: "dave", name: "Dave Engineer", nav: ["Pipelines"], personas: ["Data engineer"], teams: ["Team A"], team: "team-a", tabs: some },
  { user: "maria", name: "Maria Mlops", nav: ["Experiments", "Models"], personas: ["ML engineer"], teams: ["Team B"], team: "team-b", tabs: some },
  // Team admins deploy what they approve, so Models is theirs too.
  { user: "tom", name: "Tom Admin", nav: ["Models", "Team"], personas: ["Team admin"], teams: ["Team A"], team: "team-a", tabs: all },
  { user: "paula", name: "Paula Platform", nav: ["Team", "Admin"], personas: ["Platform admin"], teams: ["Team A", "Team B"], team: "team-a", tabs: all },
];

for (const p of personas) {
  test(`${p.user} signs in and sees the ${p.personas[0]} portal`, async ({ page }) => {
    const shell = new Shell(page);
    await shell.signInAt("/", p.user);
    const home = new HomePage(page);
    await expect(home.greeting).toHaveText(`Welcome, ${p.name}`);
    expect(await shell.navLabels()).toEqual(p.nav);
    await expect(home.personas).toHaveText(p.personas);
    await expect(home.teams).toHaveText(p.teams);

    await shell.open(`/teams/${p.team}`);
    await expect(page.getByTestId("team-title")).toBeVisible();
    await expect(page.getByRole("navigation", { name: "Team" }).getByRole("link")).toHaveText(p.tabs);
  });
}
