import { expect, test } from "@playwright/test";
import { player, unique } from "./helpers";

// The suite's server runs with a 5 s turn timeout (scripts/test.sh): the
// computer thinks 600 ms before each of its moves.

test("a player plays the easy computer to the end, with a hint, and can play again", async ({ browser }) => {
  const page = await player(browser, unique("solo"));
  await page.getByRole("button", { name: "Easy" }).click();
  await expect(page).toHaveURL(/\/game\/[0-9a-f-]{36}$/);
  await expect(page.locator(".seats")).toContainText("Computer (easy)");
  // Moves go on the open socket, not as HTTP requests of their own.
  const posted: string[] = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/api/commands")) posted.push(request.postData() ?? "");
  });
  const myTurn = page.locator('.board[data-my-turn="true"]');
  const theirTurn = page.locator('.board[data-my-turn="false"]');
  const end = page.locator(".end");
  for (let turn = 0; turn < 9; turn++) {
    await expect(myTurn.or(end).first()).toBeVisible();
    if (await end.isVisible()) break;
    if (turn === 0) {
      // The perfect computer's suggestion, computed in the browser.
      await page.getByRole("button", { name: "Hint" }).click();
      const hinted = page.getByRole("button", { name: /, suggested move$/ });
      await expect(hinted).toHaveCount(1);
      await hinted.click();
    } else {
      await page.locator(".cell:not([disabled])").first().click();
    }
    await expect(theirTurn.or(end).first()).toBeVisible();
  }
  await expect(end.getByRole("heading")).toHaveText(/won|draw/);
  expect(posted.filter((body) => body.includes("PlaceMark"))).toEqual([]);
  // A win marks its three cells, in colour and in their names.
  const won = await page.getByRole("heading", { name: /won/ }).isVisible();
  await expect(page.getByRole("button", { name: /, winning line$/ })).toHaveCount(won ? 3 : 0);
  await page.getByRole("button", { name: "Play again" }).click();
  await expect(page.locator(".end")).toHaveCount(0);
  await expect(page.locator(".seats")).toContainText("Computer (easy)");
});
