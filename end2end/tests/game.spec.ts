import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import { accept, cell, invite, move, play, player, startGame, unique } from "./helpers";

// Two browser contexts are two players, each with its own session cookie.
// The suite's server runs with a 5 s turn timeout (scripts/test.sh).
test.describe.configure({ mode: "serial" });

const shots = "screenshots";
fs.mkdirSync(shots, { recursive: true });

test("two players play to a win; the hall of fame shows the winner", async ({ browser }) => {
  const first = await (await browser.newContext()).newPage();
  await first.goto("/");
  await expect(first.getByText("No winners yet! Be the first!")).toBeVisible();
  const { alice, bob, aliceName } = await startGame(browser);
  await alice.screenshot({ path: `${shots}/lobby-invite-accepted.png` });
  await expect(alice.locator(".turn")).toContainText("It's your turn");
  await expect(bob.locator(".turn")).toContainText(`It's ${aliceName}'s turn`);
  await expect(bob.getByTestId("countdown")).toHaveText(/^\d s left$/);
  await play(alice, bob, [[0, 0], [0, 1], [1, 0], [1, 1]]);
  await alice.screenshot({ path: `${shots}/game-in-progress.png` });
  await move(alice, 2, 0);
  await expect(alice.getByRole("heading", { name: "Congratulations, you won!" })).toBeVisible();
  await expect(bob.getByRole("heading", { name: `${aliceName} won this time` })).toBeVisible();
  await alice.screenshot({ path: `${shots}/end-win.png` });
  await bob.screenshot({ path: `${shots}/end-lose.png` });
  await bob.getByRole("button", { name: "Back to lobby" }).click();
  const fame = bob.locator(".fame");
  await expect(fame).toContainText(aliceName);
  await expect(fame.locator("li").filter({ hasText: aliceName })).toContainText("100 points");
  await expect(fame.getByRole("img", { name: "trophy" })).toBeVisible();
  await bob.screenshot({ path: `${shots}/lobby.png` });
});

test("only the player whose turn it is can click, and only empty cells", async ({ browser }) => {
  const { alice, bob } = await startGame(browser);
  for (const [x, y] of [[0, 0], [1, 1], [2, 2]]) {
    await expect(cell(bob, x, y)).toBeDisabled();
  }
  await expect(bob.locator(".board")).toHaveAttribute("data-my-turn", "false");
  await bob.locator(".board").click({ force: true });
  // Keyboard play: Tab reaches the cells, Enter marks one.
  await expect(cell(alice, 1, 1)).toBeEnabled();
  await cell(alice, 1, 1).focus();
  await alice.keyboard.press("Enter");
  await expect(cell(bob, 1, 1)).toHaveAccessibleName("row 2, column 2, X");
  await expect(cell(bob, 1, 1)).toBeDisabled();
  await expect(cell(bob, 0, 0)).toBeEnabled();
  await expect(cell(alice, 0, 0)).toBeDisabled();
});

test("a full board without a line is a draw", async ({ browser }) => {
  const { alice, bob } = await startGame(browser);
  await play(alice, bob, [[0, 0], [1, 0], [2, 0], [1, 1], [0, 1], [2, 1], [1, 2], [0, 2], [2, 2]]);
  for (const page of [alice, bob]) {
    await expect(page.getByRole("heading", { name: "It's a draw!" })).toBeVisible();
  }
  await alice.screenshot({ path: `${shots}/end-draw.png` });
});

test("a player who does not move in time aborts the game", async ({ browser }) => {
  const { alice, bob } = await startGame(browser);
  for (const page of [alice, bob]) {
    await expect(page.getByRole("heading", { name: "Game aborted" })).toBeVisible({ timeout: 15_000 });
  }
  await bob.screenshot({ path: `${shots}/end-aborted.png` });
});

test("play again starts a new game with the same two players", async ({ browser }) => {
  const { alice, bob, aliceName, bobName } = await startGame(browser);
  const firstGame = alice.url();
  await play(alice, bob, [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0]]);
  await expect(bob.getByRole("heading", { name: `${aliceName} won this time` })).toBeVisible();
  await bob.getByRole("button", { name: "Play again" }).click();
  await accept(alice, bobName);
  for (const page of [alice, bob]) {
    await expect(page).not.toHaveURL(firstGame);
    await expect(page).toHaveURL(/\/game\/[0-9a-f-]{36}$/);
    await expect(cell(page, 0, 0)).toHaveAccessibleName("row 1, column 1, empty");
  }
  // Bob made the new game, so Bob plays X now.
  await expect(bob.locator(".turn")).toContainText("It's your turn");
});

test("a declined invitation is told to the inviter, who stays in the lobby", async ({ browser }) => {
  const aliceName = unique("alice");
  const bobName = unique("bob");
  const alice = await player(browser, aliceName);
  const bob = await player(browser, bobName);
  await invite(alice, bobName);
  const dialog = bob.getByRole("dialog");
  await expect(dialog).toContainText(`${aliceName} invites you to play`);
  await bob.screenshot({ path: `${shots}/invitation.png` });
  await dialog.getByRole("button", { name: "Decline" }).click();
  await expect(alice.getByText(`${bobName} declined your invitation.`)).toBeVisible();
  await expect(alice).toHaveURL(/\/$/);
  await expect(bob.getByRole("dialog")).toHaveCount(0);
  // The session remembers who you are across reloads.
  await bob.reload();
  await expect(bob.getByRole("heading", { name: `Hello, ${bobName}!` })).toBeVisible();
});

test("reloading mid-game keeps the player in the game with the right board", async ({ browser }) => {
  const { alice, bob } = await startGame(browser);
  await play(alice, bob, [[0, 0], [2, 2]]);
  await alice.reload();
  await expect(cell(alice, 0, 0)).toHaveAccessibleName("row 1, column 1, X");
  await expect(cell(alice, 2, 2)).toHaveAccessibleName("row 3, column 3, O");
  await expect(alice.locator(".turn")).toContainText("It's your turn");
  await move(alice, 1, 1);
  await expect(cell(bob, 1, 1)).toHaveAccessibleName("row 2, column 2, X");
});
