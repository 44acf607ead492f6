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

// An alias's length is what a player sees, and the browser checks it before
// asking the server, counting as the server does (grapheme clusters, with
// the browser's own `Intl.Segmenter`): a family emoji (five code points) or
// an `e` with a combining accent is one character.
test("the alias form counts the characters a player sees", async ({ page }) => {
  const signUps: string[] = [];
  page.on("request", (request) => {
    if (request.postData()?.includes("CreateUser")) signUps.push(request.url());
  });
  await page.goto("/");
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
  const form = page.locator(".alias-form");
  const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}";
  await page.getByLabel("Pick an alias").fill(family.repeat(25));
  await page.getByRole("button", { name: "Enter" }).click();
  await expect(form.getByRole("alert")).toHaveText(
    "That alias won't do: the alias is too long: 25 characters, at most 24.",
  );
  expect(signUps).toEqual([]);

  const alias = family.repeat(12) + "e\u0301".repeat(12);
  await page.getByLabel("Pick an alias").fill(alias);
  await page.getByRole("button", { name: "Enter" }).click();
  await expect(page.getByRole("heading", { name: `Hello, ${alias}!` })).toBeVisible();
  expect(signUps).toHaveLength(1);
});

// The browser renders the app over the server's page once the bundle has
// loaded (`frontend/src/lib.rs`): what a player typed before that, and
// where the focus was, are carried over to the live page.
test("an alias typed before the page is live is kept", async ({ page }) => {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  await page.route("**/pkg/*.wasm", async (route) => {
    await released;
    await route.continue();
  });
  await page.goto("/", { waitUntil: "domcontentloaded" });
  const field = page.getByLabel("Pick an alias");
  const alias = unique("early");
  await field.fill(alias);
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connecting");
  release();
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
  await expect(field).toHaveValue(alias);
  await expect(field).toBeFocused();
  await expect(page.getByRole("button", { name: "Enter" })).toBeEnabled();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: `Hello, ${alias}!` })).toBeVisible();
});
