// A real `countersign serve` (and, on request, `countersign worker`) for the tests, started in a temporary
// directory with its embedded Redis-protocol server; plus a client that reports each request it files.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Countersign } from "../dist/index.js";

export const AGENT_KEY = "agent-js-secret-0123456789abcdef";
export const APPROVER_KEY = "approver-js-secret-0123456789abcdef";
const here = dirname(fileURLToPath(import.meta.url));
const venvBinary = resolve(here, "../../../.venv/bin/countersign");

export function countersignBinary() {
  return process.env.COUNTERSIGN_BIN || (existsSync(venvBinary) ? venvBinary : "countersign");
}

async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

async function waitHealthy(url, child, log, withinMs = 30_000) {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`countersign serve exited ${child.exitCode}:\n${log.join("")}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`countersign serve did not start:\n${log.join("")}`);
}

function launch(args, env, cwd) {
  const log = [];
  const child = spawn(countersignBinary(), args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (chunk) => log.push(chunk.toString()));
  child.stderr.on("data", (chunk) => log.push(chunk.toString()));
  return { child, log };
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once("exit", ok));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `countersign serve` (and `countersign worker` when asked); `stop()` ends both and removes the directory. */
export async function startCountersign({ worker = false, policy = undefined } = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "countersign-js-"));
  if (policy !== undefined) writeFileSync(join(cwd, "policy.yaml"), policy);
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) =>
    !name.startsWith("COUNTERSIGN_") && !name.startsWith("SLACK_") && !name.startsWith("TWILIO_") && !name.startsWith("SMTP_") && name !== "REDIS_URL"));
  Object.assign(env, {
    COUNTERSIGN_API_KEYS: `agent-js:${AGENT_KEY}`,
    COUNTERSIGN_APPROVER_KEYS: `js-tests:${APPROVER_KEY}`,
    COUNTERSIGN_CALLBACK_ALLOW: "127.0.0.1",
    HOST: "127.0.0.1",
    PORT: String(port),
    ...(policy === undefined ? {} : { COUNTERSIGN_POLICY: join(cwd, "policy.yaml") }),
  });
  const url = `http://127.0.0.1:${port}`;
  const serve = launch(["serve"], env, cwd);
  const processes = [serve.child];
  try {
    await waitHealthy(url, serve.child, serve.log);
    if (worker) processes.push(launch(["worker"], env, cwd).child);
  } catch (error) {
    await Promise.all(processes.map(stop));
    throw error;
  }
  return {
    url,
    approver: new Countersign({ url, apiKey: APPROVER_KEY }),
    async stop() {
      await Promise.all(processes.map(stop));
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/** A client that hands each request it files to whoever awaits `nextFiled()` (no polling). */
export class ObservedClient extends Countersign {
  #filed = [];
  #waiting = [];

  async request(...args) {
    const approval = await super.request(...args);
    const waiter = this.#waiting.shift();
    if (waiter) waiter(approval);
    else this.#filed.push(approval);
    return approval;
  }

  nextFiled() {
    const ready = this.#filed.shift();
    return ready ? Promise.resolve(ready) : new Promise((ok) => this.#waiting.push(ok));
  }
}
