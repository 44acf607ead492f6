import { expect, test } from "@playwright/test";
import { move, player, play, unique } from "./helpers";

test("two players press Play anyone and play a game", async ({ browser }) => {
  const alice = await player(browser, unique("alice"));
  const bob = await player(browser, unique("bob"));
  await alice.getByRole("button", { name: "Play anyone" }).click();
  await expect(alice.getByRole("status").filter({ hasText: "Looking for an opponent" })).toBeVisible();
  // Cancelling leaves the queue; pressing again joins it anew.
  await alice.getByRole("button", { name: "Cancel" }).click();
  await expect(alice.getByRole("button", { name: "Play anyone" })).toBeVisible();
  await alice.getByRole("button", { name: "Play anyone" }).click();
  await expect(alice.getByRole("button", { name: "Cancel" })).toBeVisible();
  await bob.getByRole("button", { name: "Play anyone" }).click();
  for (const page of [alice, bob]) {
    await expect(page).toHaveURL(/\/game\/[0-9a-f-]{36}$/);
    await expect(page.locator(".turn")).toContainText(/turn/);
  }
  // Who waited plays X in a first pair; whoever it is, X moves first.
  const aliceFirst = (await alice.locator(".turn").textContent())?.includes("your turn");
  const [x, o] = aliceFirst ? [alice, bob] : [bob, alice];
  await play(x, o, [[0, 0], [0, 1], [1, 0], [1, 1]]);
  await move(x, 2, 0);
  await expect(x.getByRole("heading", { name: "Congratulations, you won!" })).toBeVisible();
  await expect(x.getByRole("button", { name: /, winning line$/ })).toHaveCount(3);
});

test("a player who starts another game leaves the queue: nobody is paired into two games", async ({ browser }) => {
  const alice = await player(browser, unique("alice"));
  const bob = await player(browser, unique("bob"));
  await alice.getByRole("button", { name: "Play anyone" }).click();
  await expect(alice.getByRole("button", { name: "Cancel" })).toBeVisible();
  await alice.goto("/");
  await expect(alice.locator(".link")).toHaveAttribute("data-state", "connected");
  // Still queued after the reload (the page does not know it); starting a
  // game against the computer takes her out of the queue.
  await alice.getByRole("button", { name: "Easy" }).click();
  await expect(alice.locator(".seats")).toContainText("Computer (easy)");
  // Bob waits alone, then Carol comes: the two of them are paired.
  await bob.getByRole("button", { name: "Play anyone" }).click();
  await expect(bob.getByRole("button", { name: "Cancel" })).toBeVisible();
  const carolName = unique("carol");
  const carol = await player(browser, carolName);
  await carol.getByRole("button", { name: "Play anyone" }).click();
  for (const page of [bob, carol]) {
    await expect(page).toHaveURL(/\/game\/[0-9a-f-]{36}$/);
  }
  await expect(bob.locator(".seats")).toContainText(carolName);
  await expect(alice.locator(".seats")).toContainText("Computer (easy)");
});
