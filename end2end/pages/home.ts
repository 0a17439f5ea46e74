import { type Locator, type Page } from "@playwright/test";

export class HomePage {
  readonly greeting: Locator;
  readonly personas: Locator;
  readonly teams: Locator;

  constructor(readonly page: Page) {
    this.greeting = page.getByTestId("greeting");
    this.personas = page.getByTestId("personas").locator(".chip");
    this.teams = page.getByTestId("team-list").locator(".team-name");
  }
}
