import { expect, type Page } from "@playwright/test";

export const PASSWORD = "atrium-demo";

/** The real Keycloak login page of the demo realm. */
export class KeycloakLogin {
  constructor(private readonly page: Page) {}

  async expectShown() {
    await expect(this.page.locator("#kc-form-login")).toBeVisible();
  }

  async signIn(username: string, password = PASSWORD) {
    await this.expectShown();
    await this.page.locator("#username").fill(username);
    await this.page.locator("#password").fill(password);
    await this.page.locator("#kc-login").click();
  }
}
