import { expect, test } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cell, healthy, move, play, root, serverBinary, startGame } from "./helpers";

// This test runs a server of its own, from the binary cargo-leptos just
// built, so that it can kill and restart it on the same data folder.
const port = 3105;
const base = `http://127.0.0.1:${port}`;

function start(data: string): ChildProcess {
  return spawn(serverBinary(), ["--addr", `127.0.0.1:${port}`, "--data-dir", data], {
    env: { ...process.env, LEPTOS_SITE_ROOT: path.join(root, "target", "site"), RUST_LOG: "warn" },
    stdio: "ignore",
  });
}

test("a server restart mid-game: both pages say so, come back, and finish the game", async ({ browser }) => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "tictactoe-restart-"));
  let server = start(data);
  try {
    await healthy(port);
    const { alice, bob, aliceName } = await startGame(browser, base);
    await play(alice, bob, [[0, 0], [0, 1]]);

    server.kill("SIGKILL");
    for (const page of [alice, bob]) {
      await expect(page.locator(".link")).toHaveAttribute("data-state", "reconnecting");
      await expect(page.locator(".link")).toContainText("Connection lost");
    }
    server = start(data);
    await healthy(port);
    for (const page of [alice, bob]) {
      await expect(page.locator(".link")).toHaveAttribute("data-state", "connected", { timeout: 15_000 });
      await expect(cell(page, 0, 0)).toHaveAccessibleName("row 1, column 1, X");
      await expect(cell(page, 0, 1)).toHaveAccessibleName("row 2, column 1, O");
    }
    await expect(alice.locator(".turn")).toContainText("It's your turn");
    await play(alice, bob, [[1, 0], [1, 1]]);
    await move(alice, 2, 0);
    await expect(alice.getByRole("heading", { name: "Congratulations, you won!" })).toBeVisible();
    await expect(bob.getByRole("heading", { name: `${aliceName} won this time` })).toBeVisible();
  } finally {
    server.kill("SIGKILL");
    fs.rmSync(data, { recursive: true, force: true });
  }
});
