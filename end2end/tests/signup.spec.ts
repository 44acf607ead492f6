import { expect, test } from "@playwright/test";

import { unique } from "./helpers";

// The browser makes a new user's id from `crypto.getRandomValues`; two
// browsers that draw the same sixteen bytes make the same id, and the
// server refuses the second sign-up (409, "that user id is taken"). The
// page must show the server's words, read from its error answer.
test("a sign-up the server refuses shows the server's reason", async ({ browser }) => {
  const drawn = Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
  const sameIds = (bytes: number[]) => {
    const draw = crypto.getRandomValues.bind(crypto);
    crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
      if (array instanceof Uint8Array && array.length === 16) {
        array.set(bytes);
        return array;
      }
      return draw(array);
    }) as typeof crypto.getRandomValues;
  };
  const signUp = async (alias: string) => {
    const context = await browser.newContext();
    await context.addInitScript(sameIds, drawn);
    const page = await context.newPage();
    await page.goto("/");
    await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
    await page.getByLabel("Pick an alias").fill(alias);
    await page.getByRole("button", { name: "Enter" }).click();
    return page;
  };
  const first = unique("first");
  await expect((await signUp(first)).getByRole("heading", { name: `Hello, ${first}!` })).toBeVisible();
  const second = await signUp(unique("second"));
  await expect(second.locator(".alias-form").getByRole("alert")).toHaveText("that user id is taken");
  await expect(second.getByRole("heading", { name: "Tic-tac-toe" })).toBeVisible();
});
