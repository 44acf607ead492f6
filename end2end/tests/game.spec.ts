import { expect, test, type Browser, type Page } from "@playwright/test";
import * as fs from "node:fs";

// Two browser contexts are two players, each with its own session cookie.
// The suite's server runs with a 5 s turn timeout (scripts/test.sh).
test.describe.configure({ mode: "serial" });

const shots = "screenshots";
fs.mkdirSync(shots, { recursive: true });

function unique(name: string): string {
  return `${name}-${Math.random().toString(36).slice(2, 7)}`;
}

async function player(browser: Browser, alias: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
  await page.getByLabel("Pick an alias").fill(alias);
  await page.getByRole("button", { name: "Enter" }).click();
  await expect(page.getByRole("heading", { name: `Hello, ${alias}!` })).toBeVisible();
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
  return page;
}

async function invite(inviter: Page, invited: string) {
  await inviter.getByRole("radio", { name: invited }).check();
  await inviter.getByRole("button", { name: "Play!" }).click();
}

async function accept(page: Page, inviter: string) {
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText(`${inviter} invites you to play`);
  await dialog.getByRole("button", { name: "Accept" }).click();
}

function cell(page: Page, x: number, y: number) {
  return page.getByRole("button", { name: new RegExp(`^row ${y + 1}, column ${x + 1}, `) });
}

async function move(page: Page, x: number, y: number) {
  await expect(cell(page, x, y)).toBeEnabled();
  await cell(page, x, y).click();
  await expect(cell(page, x, y)).toHaveAccessibleName(/, (X|O)$/);
}

/// Alice invites Bob, Bob accepts: both on the game page, Alice (X) to play.
async function startGame(browser: Browser) {
  const aliceName = unique("alice");
  const bobName = unique("bob");
  const alice = await player(browser, aliceName);
  const bob = await player(browser, bobName);
  await expect(alice.getByRole("radio", { name: bobName })).toBeVisible();
  await expect(bob.getByRole("radio", { name: aliceName })).toBeVisible();
  await invite(alice, bobName);
  await expect(alice.getByRole("status").filter({ hasText: "Waiting for" })).toContainText(`Waiting for ${bobName} to accept`);
  await accept(bob, aliceName);
  for (const page of [alice, bob]) {
    await expect(page).toHaveURL(/\/game\/[0-9a-f-]{36}$/);
    await expect(page.locator(".turn")).toContainText(/turn/);
  }
  return { alice, bob, aliceName, bobName };
}

/// Plays moves alternately from X.
async function play(x: Page, o: Page, moves: [number, number][]) {
  for (const [i, [mx, my]] of moves.entries()) {
    await move(i % 2 === 0 ? x : o, mx, my);
  }
}

test("two players play to a win; the hall of fame shows the winner", async ({ browser }) => {
  const first = await (await browser.newContext()).newPage();
  await first.goto("/");
  await expect(first.getByText("No winners yet! Be the first!")).toBeVisible();
  const { alice, bob, aliceName, bobName } = await startGame(browser);
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
  expect(bobName).toBeTruthy();
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
