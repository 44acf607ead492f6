import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { move, play, startGame } from "./helpers";

/// No serious or critical axe-core violation on `page` as it is now.
async function audit(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id}: ${violation.help} at ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
  expect(bad, `axe on ${what}`).toEqual([]);
}

test("every page of the site passes an axe-core audit", async ({ browser }) => {
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto("/");
  await expect(visitor.locator(".link")).toHaveAttribute("data-state", "connected");
  await audit(visitor, "the lobby, signed out");
  await visitor.goto("/about");
  await audit(visitor, "the about page");
  await visitor.goto("/no-such-page");
  await audit(visitor, "a page that does not exist");
  await visitor.goto("/history");
  await expect(visitor.getByText("Pick an alias")).toBeVisible();
  await audit(visitor, "the history, signed out");

  const { alice, bob } = await startGame(browser);
  await audit(alice, "a game, your turn");
  await audit(bob, "a game, their turn");
  const game = alice.url();
  await visitor.goto(game);
  await expect(visitor.getByRole("heading", { name: /You are watching/ })).toBeVisible();
  await audit(visitor, "a game, watching");
  await play(alice, bob, [[0, 0], [0, 1], [1, 0], [1, 1]]);
  await move(alice, 2, 0);
  await expect(alice.getByRole("heading", { name: "Congratulations, you won!" })).toBeVisible();
  await audit(alice, "the end of a game, won");
  await audit(bob, "the end of a game, lost");
  await alice.goto("/");
  await expect(alice.getByRole("heading", { name: /Hello, / })).toBeVisible();
  await audit(alice, "the lobby, signed in");
  await alice.goto("/history");
  await expect(alice.locator(".games tbody tr").first()).toBeVisible();
  await audit(alice, "your history");
  await alice.locator(".games tbody tr").first().getByRole("link", { name: "Replay" }).click();
  await expect(alice.locator(".replay").getByRole("status")).toHaveText(/^Move 0 of/);
  await audit(alice, "a replay");
  await alice.goto(`/players/${game.split("/").pop()}`);
  await audit(alice, "a player page (no such player)");
  await bob.getByRole("link", { name: "Your games" }).click();
  await bob.locator(".games tbody tr").first().getByRole("link").first().click();
  await expect(bob.getByRole("heading", { name: /'s games$/ })).toBeVisible();
  await audit(bob, "a player's page");
  await bob.goto("/");
  await bob.getByRole("button", { name: "Play anyone" }).click();
  await expect(bob.getByRole("button", { name: "Cancel" })).toBeVisible();
  await audit(bob, "the lobby, waiting for quick play");
  await bob.getByRole("button", { name: "Cancel" }).click();
  await bob.getByRole("button", { name: "Easy" }).click();
  await expect(bob.locator(".seats")).toContainText("Computer (easy)");
  await audit(bob, "a game against the computer");
});
