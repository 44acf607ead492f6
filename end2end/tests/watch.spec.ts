import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import { move, play, startGame } from "./helpers";

fs.mkdirSync("screenshots", { recursive: true });

test("someone without an alias watches a game from the lobby to its end", async ({ browser }) => {
  const { alice, bob, aliceName, bobName } = await startGame(browser);
  const watcher = await (await browser.newContext()).newPage();
  await watcher.goto("/");
  const live = watcher.locator(".live-games li").filter({ hasText: `${aliceName} vs ${bobName}` });
  await expect(live).toBeVisible();
  await watcher.setViewportSize({ width: 900, height: 1400 });
  await watcher.screenshot({ path: "screenshots/lobby-live-games.png", fullPage: true });
  await live.getByRole("link", { name: "Watch" }).click();
  await expect(watcher).toHaveURL(/\/game\/[0-9a-f-]{36}$/);
  await expect(watcher.getByRole("heading", { name: `You are watching ${aliceName} vs ${bobName}` })).toBeVisible();
  // The players see that someone watches.
  for (const page of [alice, bob]) {
    await expect(page.getByTestId("watching")).toHaveText("1 watching");
  }
  // No cell is the spectator's to click; the moves arrive live.
  await expect(watcher.locator(".cell:not([disabled])")).toHaveCount(0);
  await play(alice, bob, [[0, 0], [0, 1], [1, 0], [1, 1]]);
  await expect(watcher.getByRole("button", { name: "row 2, column 2, O" })).toBeVisible();
  await move(alice, 2, 0);
  await expect(watcher.getByRole("heading", { name: `${aliceName} won` })).toBeVisible();
  await expect(watcher.getByRole("button", { name: /, winning line$/ })).toHaveCount(3);
  await expect(watcher.getByRole("button", { name: "Play again" })).toHaveCount(0);
});
