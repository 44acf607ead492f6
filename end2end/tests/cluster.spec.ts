import { expect, test } from "@playwright/test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { healthy, move, play, root, serverBinary, startGame } from "./helpers";

// Two nodes of a cluster, from the binary cargo-leptos just built, on a
// PostgreSQL database of this test's own and a nats-server: each player's
// browser talks to another node, as behind a load balancer.
const admin = process.env.TEST_DATABASE_URL;
const natsPort = 4306;
const ports = [3106, 3107];

function natsServer(): string {
  return ["/usr/sbin/nats-server", "/usr/bin/nats-server"].find((file) => fs.existsSync(file)) ?? "nats-server";
}

test("two browsers on two nodes of a cluster play a game", async ({ browser }) => {
  test.skip(!admin, "needs TEST_DATABASE_URL (scripts/test.sh sets it)");
  const database = `tictactoe_test_e2e_${Date.now()}`;
  const psql = (sql: string) => execFileSync("psql", [admin!, "-X", "-q", "-c", sql]);
  psql(`CREATE DATABASE ${database}`);
  const url = admin!.replace(/\/[^/]*$/, `/${database}`);
  const processes: ChildProcess[] = [];
  try {
    processes.push(spawn(natsServer(), ["-a", "127.0.0.1", "-p", `${natsPort}`], { stdio: "ignore" }));
    for (const port of ports) {
      const args = ["--addr", `127.0.0.1:${port}`, "--database-url", url, "--nats-url", `nats://127.0.0.1:${natsPort}`];
      processes.push(
        spawn(serverBinary(), args, {
          env: { ...process.env, LEPTOS_SITE_ROOT: path.join(root, "target", "site"), RUST_LOG: "warn" },
          stdio: "ignore",
        }),
      );
    }
    await Promise.all(ports.map(healthy));
    const [first, second] = ports.map((port) => `http://127.0.0.1:${port}`);
    const { alice, bob, aliceName } = await startGame(browser, first, second);
    await play(alice, bob, [[0, 0], [0, 1], [1, 0], [1, 1]]);
    await move(alice, 2, 0);
    await expect(alice.getByRole("heading", { name: "Congratulations, you won!" })).toBeVisible();
    await expect(bob.getByRole("heading", { name: `${aliceName} won this time` })).toBeVisible();
    // The hall of fame, read on Bob's node, has Alice's win.
    await bob.getByRole("button", { name: "Back to lobby" }).click();
    await expect(bob.locator(".fame li").filter({ hasText: aliceName })).toContainText("100 points");
  } finally {
    for (const child of processes.reverse()) child.kill("SIGKILL");
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
});
