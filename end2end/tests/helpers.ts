// Playing as a person would: two browser contexts are two players.
import { expect, type Browser, type Page } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";

/// The repository's root folder.
export const root = path.resolve(__dirname, "..", "..");

/// The server binary cargo-leptos just built (the newest build), for the
/// tests that run servers of their own.
export function serverBinary(): string {
  const builds = ["release", "debug"]
    .map((profile) => path.join(root, "target", profile, "server"))
    .filter((file) => fs.existsSync(file));
  builds.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return builds[0];
}

/// Waits until the server on `port` says it is healthy.
export async function healthy(port: number) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the server on port ${port} did not come up`);
}

export function unique(name: string): string {
  return `${name}-${Math.random().toString(36).slice(2, 7)}`;
}

export async function player(browser: Browser, alias: string, base = ""): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
  await page.getByLabel("Pick an alias").fill(alias);
  await page.getByRole("button", { name: "Enter" }).click();
  await expect(page.getByRole("heading", { name: `Hello, ${alias}!` })).toBeVisible();
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
  return page;
}

export async function invite(inviter: Page, invited: string) {
  await inviter.getByRole("radio", { name: invited }).check();
  await inviter.getByRole("button", { name: "Play!" }).click();
}

export async function accept(page: Page, inviter: string) {
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText(`${inviter} invites you to play`);
  await dialog.getByRole("button", { name: "Accept" }).click();
}

export function cell(page: Page, x: number, y: number) {
  return page.getByRole("button", { name: new RegExp(`^row ${y + 1}, column ${x + 1}, `) });
}

export async function move(page: Page, x: number, y: number) {
  await expect(cell(page, x, y)).toBeEnabled();
  await cell(page, x, y).click();
  await expect(cell(page, x, y)).toHaveAccessibleName(/, (X|O)(, |$)/);
}

/// Alice invites Bob, Bob accepts: both on the game page, Alice (X) to play.
/// Bob's browser opens `bobBase` (another node of a cluster, say).
export async function startGame(browser: Browser, base = "", bobBase = base) {
  const aliceName = unique("alice");
  const bobName = unique("bob");
  const alice = await player(browser, aliceName, base);
  const bob = await player(browser, bobName, bobBase);
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
export async function play(x: Page, o: Page, moves: [number, number][]) {
  for (const [i, [mx, my]] of moves.entries()) {
    await move(i % 2 === 0 ? x : o, mx, my);
  }
}

