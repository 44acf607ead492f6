import { expect, test, type Page, type WebSocketRoute } from "@playwright/test";

// The connection banner only turns "connected" once the WASM bundle has
// taken over the page and its socket got the server's first frame.
const banner = (page: Page) => page.getByRole("status").filter({ hasText: /connect/i });

test("the page is server-rendered with its title and content", async ({ page }) => {
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle("Tic-tac-toe");
  await expect(page.getByRole("heading", { name: "Tic-tac-toe" })).toBeVisible();
});

test("the live connection indicator shows connected", async ({ page }) => {
  await page.goto("/");
  await expect(banner(page)).toHaveAttribute("data-state", "connected");
  await expect(banner(page)).toHaveText("Connected");
});

test("once the browser has taken over, the button calls the server function and shows its answer", async ({ page }) => {
  await page.goto("/about");
  await expect(banner(page)).toHaveAttribute("data-state", "connected");
  await page.getByRole("button", { name: "Ask the server" }).click();
  const answer = page.getByTestId("server-answer");
  await expect(answer).toContainText(/Server \d+\.\d+\.\d+ answered at \d\d:\d\d:\d\d UTC/);
  // This page's own socket is open, so the server counts at least one.
  await expect(answer).toContainText(/with [1-9]\d* live connections?\./);
});

test("when the server goes away the page says so, retries with backoff, and comes back", async ({ page }) => {
  let serverUp = true;
  const routed: WebSocketRoute[] = [];
  await page.routeWebSocket("**/api/ws", (socket) => {
    routed.push(socket);
    if (serverUp) {
      socket.connectToServer();
    } else {
      // Refused: the page sees its socket close without a Connected frame.
      socket.close({ code: 1011, reason: "server down" });
    }
  });

  await page.goto("/");
  await expect(banner(page)).toHaveAttribute("data-state", "connected");
  const beforeDrop = routed.length;

  serverUp = false;
  await routed[beforeDrop - 1].close({ code: 1001, reason: "server restarting" });
  await expect(banner(page)).toHaveAttribute("data-state", "reconnecting");
  // Attempts keep coming while the server is down, each one counted.
  await expect(banner(page)).toContainText("attempt 3");
  const attemptsWhileDown = routed.length - beforeDrop;
  expect(attemptsWhileDown).toBeGreaterThanOrEqual(2);

  serverUp = true;
  await expect(banner(page)).toHaveAttribute("data-state", "connected");
  await expect(banner(page)).toHaveText("Connected");
});
