import { expect, test } from "@playwright/test";
import { move, play, startGame } from "./helpers";

test("the history shows a finished game, and its replay steps through the moves", async ({ browser }) => {
  const { alice, bob, aliceName, bobName } = await startGame(browser);
  await play(alice, bob, [[0, 0], [0, 1], [1, 0], [1, 1]]);
  await move(alice, 2, 0);
  await expect(alice.getByRole("heading", { name: "Congratulations, you won!" })).toBeVisible();

  // The site's header marks the link to the page on screen, and only it.
  const yourGames = alice.getByRole("navigation", { name: "Site" }).getByRole("link", { name: "Your games" });
  await expect(yourGames).not.toHaveAttribute("aria-current");
  await yourGames.click();
  await expect(alice).toHaveURL(/\/history$/);
  await expect(yourGames).toHaveAttribute("aria-current", "page");
  const row = alice.locator(".games tbody tr").first();
  await expect(row).toContainText(bobName);
  await expect(row).toContainText("Won");
  await row.getByRole("link", { name: "Replay" }).click();
  await expect(alice).toHaveURL(/\/games\/[0-9a-f-]{36}\/replay$/);
  await expect(yourGames).not.toHaveAttribute("aria-current");
  await expect(alice.getByRole("heading", { name: `${aliceName} (X) vs ${bobName} (O)` })).toBeVisible();
  const status = alice.locator(".replay").getByRole("status");
  await expect(status).toHaveText("Move 0 of 5");
  const cell = (x: number, y: number) =>
    alice.getByRole("img", { name: new RegExp(`^row ${y + 1}, column ${x + 1}, `) });
  await expect(cell(0, 0)).toHaveAccessibleName("row 1, column 1, empty");
  await alice.getByRole("button", { name: "Next" }).click();
  await expect(status).toHaveText("Move 1 of 5");
  await expect(cell(0, 0)).toHaveAccessibleName("row 1, column 1, X");
  for (let i = 0; i < 4; i++) await alice.keyboard.press("ArrowRight");
  await expect(status).toHaveText("Move 5 of 5");
  await expect(alice.getByRole("img", { name: /, winning line$/ })).toHaveCount(3);
  await alice.keyboard.press("Home");
  await expect(status).toHaveText("Move 0 of 5");
  await alice.keyboard.press("End");
  await expect(status).toHaveText("Move 5 of 5");

  // The address is shareable: Bob opens it, and Alice's page from his history.
  await bob.goto(alice.url());
  await expect(bob.locator(".replay").getByRole("status")).toHaveText("Move 0 of 5");
  await bob.goto("/history");
  const bobsRow = bob.locator(".games tbody tr").first();
  await expect(bobsRow).toContainText("Lost");
  await bobsRow.getByRole("link", { name: aliceName }).click();
  await expect(bob.getByRole("heading", { name: `${aliceName}'s games` })).toBeVisible();
  await expect(bob.locator(".games tbody tr").first()).toContainText("Won");
});
