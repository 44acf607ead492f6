import { expect, test } from "@playwright/test";

// The site's links and the browser's back and forward buttons change the
// page without loading another (the app's own router, `app/src/router.rs`):
// what the page held stays (a value set on `window`), and so does its
// socket. A path that is no page gets the server's 404.
test("links and the back and forward buttons change the page without a reload", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");
  await page.evaluate(() => {
    (window as unknown as { samePage: boolean }).samePage = true;
  });
  const yourGames = page.getByRole("navigation", { name: "Site" }).getByRole("link", { name: "Your games" });
  await yourGames.click();
  await expect(page).toHaveURL(/\/history$/);
  await expect(page.getByRole("heading", { name: "Your games" })).toBeVisible();
  await expect(yourGames).toHaveAttribute("aria-current", "page");

  await page.goBack();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Tic-tac-toe" })).toBeVisible();
  await expect(yourGames).not.toHaveAttribute("aria-current", "page");
  await page.goForward();
  await expect(page.getByRole("heading", { name: "Your games" })).toBeVisible();

  expect(await page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
  await expect(page.locator(".link")).toHaveAttribute("data-state", "connected");

  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByText("Page not found.")).toBeVisible();
});
