/**
 * `curl -fsSL URL/install.sh | sh` with the transfer cut off midway: sh runs whatever arrived, so a
 * cut install.sh must do nothing at all. The real server sends install.sh's full Content-Length and
 * drops the connection after N bytes; the real curl pipes those bytes to the real sh. Cut at line
 * ends throughout and at every byte of the last line, the run may not download anything, create
 * the install root or a temporary directory, or print anything on stdout. The whole file, through the same pipe,
 * installs (so these observations do see a run).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTALL_SH, Release, Scratch, cleanEnv, run, type Run } from "./release.ts";

const scratch = new Scratch();
const release = new Release(scratch);

beforeAll(async () => {
  await release.start();
  release.publish("0.1.0-test");
});
afterAll(async () => {
  await release.stop();
  scratch.removeAll();
});

/** `curl -fsSL URL | sh` with DESTDIR=ROOT (not created beforehand) and TMPDIR=TMP. */
async function pipeToSh(url: string): Promise<Run & { root: string; tmp: string }> {
  const dir = scratch.dir();
  const root = join(dir, "root");
  const tmp = scratch.dir({ prefix: "as-install-tmp-" });
  const env = { ...cleanEnv(), DESTDIR: root, TMPDIR: tmp, AGENT_SUPERVISOR_BASE_URL: release.baseUrl };
  const r = await run("sh", ["-c", 'curl -fsSL "$1" | sh', "pipe", url], env);
  return { ...r, root, tmp };
}

/**
 * Byte offsets to cut at: the end of every 20th line (a run takes a quarter of a second on a busy
 * machine), the end of the line before the last, and every byte of the last line.
 */
function cutPoints(text: Buffer): number[] {
  const cuts = new Set<number>([0]);
  let line = 0;
  for (let i = 0; i < text.length; i++) if (text[i] === 0x0a && ++line % 20 === 0) cuts.add(i + 1);
  const lastLine = text.lastIndexOf(0x0a, text.length - 2) + 1;
  for (let i = lastLine; i < text.length; i++) cuts.add(i);
  // The whole file but its last newline is the whole script.
  return [...cuts].filter((n) => n < text.length - 1).sort((a, b) => a - b);
}

describe("install.sh piped from curl and cut off midway", () => {
  it("the whole file through the same pipe installs", async () => {
    const r = await pipeToSh(`${release.baseUrl}/install.sh`);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(existsSync(join(r.root, "usr/local/bin/agent-supervisor"))).toBe(true);
    expect(r.stdout).toContain("is installed");
  });

  it("a transfer cut at line ends throughout, or anywhere in the last line, runs nothing", async () => {
    const text = readFileSync(INSTALL_SH);
    const cuts = cutPoints(text);
    expect(cuts.length).toBeGreaterThan(30);
    const ran: string[] = [];
    // One at a time, so that each request is known to come from its run.
    for (const n of cuts) {
      const before = release.requests.length;
      const r = await pipeToSh(`${release.baseUrl}/install.sh?cut=${n}`);
      const did: string[] = [];
      const asked = release.requests.slice(before).filter((p) => p !== "/install.sh");
      if (asked.length > 0) did.push(`downloaded ${asked.join(" ")}`);
      if (existsSync(r.root)) did.push(`created the root (${readdirSync(r.root).join(" ") || "empty"})`);
      if (readdirSync(r.tmp).length > 0) did.push("used TMPDIR");
      if (r.stdout !== "") did.push(`printed ${JSON.stringify(r.stdout.slice(0, 60))}`);
      if (did.length > 0) ran.push(`cut at byte ${n} (line ${text.subarray(0, n).toString().split("\n").length}): ${did.join(", ")}`);
    }
    expect(ran).toEqual([]);
  }, 300_000);
});
