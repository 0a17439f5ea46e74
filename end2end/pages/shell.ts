import { expect, type Locator, type Page } from "@playwright/test";
import { KeycloakLogin } from "./keycloak";

/** The portal's frame: navigation, team switcher, user menu. */
export class Shell {
  readonly nav: Locator;
  readonly teamSwitcher: Locator;
  readonly signOut: Locator;
  readonly userName: Locator;

  constructor(readonly page: Page) {
    this.nav = page.getByTestId("nav");
    this.teamSwitcher = page.getByTestId("team-switcher");
    this.signOut = page.getByTestId("sign-out");
    this.userName = page.getByTestId("user-name");
  }

  /** Opens `path` signed out, signs in on Keycloak, and waits to be back. */
  async signInAt(path: string, username: string) {
    await this.page.goto(path);
    await new KeycloakLogin(this.page).signIn(username);
    await this.page.waitForURL((url) => url.pathname === path.split("?")[0]);
    await expect(this.userName).toBeVisible();
    await this.page.locator("body[data-hydrated]").waitFor();
  }

  /** Opens `path` and waits until the page is interactive (hydrated). */
  async open(path: string) {
    await this.page.goto(path);
    await this.page.locator("body[data-hydrated]").waitFor();
  }

  async navLabels(): Promise<string[]> {
    await expect(this.nav).toBeVisible();
    return (await this.nav.getByRole("link").allInnerTexts()).map((t) => t.trim());
  }
}
