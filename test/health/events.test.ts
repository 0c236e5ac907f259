/**
 * Reading the audit trail: `GET /v1/events` on the real app and HTTP server on 127.0.0.1 over a
 * real SQLite file, and `agent-supervisor events` (bin/agent-supervisor, a child process) against
 * the same file with no daemon running.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startHttpServer, type HttpServerHandle } from "../../src/health/server.ts";
import { auditEntry, AuditStore } from "../../src/store/audit.ts";
import { openDb } from "../../src/store/db.ts";
import { removeTempDirs, tempDir } from "../integration/helpers.ts";
import { TOKEN } from "./fakes.ts";
import { harness, NOW } from "./harness.ts";
import { runCli } from "./local-daemon.ts";

let server: HttpServerHandle | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  removeTempDirs();
});

let n = 0;
const uuid = () => `20000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
const HOUR = 3_600_000;

/** A data directory with a database holding three entries: 3 h, 2 h and 30 min before NOW. */
function dataDirWithTrail() {
  const dataDir = tempDir("as-events-");
  const db = openDb(join(dataDir, "agent-supervisor.db"));
  const store = new AuditStore(db);
  store.append(auditEntry({ actor: "daemon", action: "gateway.start", cause: "boot", detail: { generation: 1 } }, uuid(), NOW - 3 * HOUR));
  store.append(auditEntry({ actor: "control-plane", action: "secrets.apply", cause: "secrets version 7 from the control plane", detail: { version: "7" } }, uuid(), NOW - 2 * HOUR));
  store.append(auditEntry({ actor: "daemon", action: "gateway.restart", cause: "rotation", detail: { generation: 1, delayMs: 0 } }, uuid(), NOW - HOUR / 2));
  return { dataDir, db, store };
}

describe("GET /v1/events on a real server", () => {
  it("needs the bearer token, reads by since, after and limit, oldest first", async () => {
    const { db, store } = dataDirWithTrail();
    const h = harness({ auditEvents: (q) => store.list(q) });
    server = await startHttpServer({ app: h.app, host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${server.port}/v1/events`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(base)).status).toBe(401);

    const all = (await (await fetch(base, { headers: auth })).json()) as { events: { seq: number; action: string; at: string; actor: string; shippedAt: null }[]; lastSeq: number };
    expect(all.events.map((e) => e.action)).toEqual(["gateway.start", "secrets.apply", "gateway.restart"]);
    expect(all.events[1]).toMatchObject({ actor: "control-plane", at: new Date(NOW - 2 * HOUR).toISOString(), shippedAt: null, detail: { version: "7" } });
    expect(all.lastSeq).toBe(all.events[2]!.seq);

    const recent = (await (await fetch(`${base}?since=1h`, { headers: auth })).json()) as { events: { action: string }[] };
    expect(recent.events.map((e) => e.action)).toEqual(["gateway.restart"]);
    const byTime = (await (await fetch(`${base}?since=${encodeURIComponent(new Date(NOW - 2 * HOUR).toISOString())}`, { headers: auth })).json()) as { events: unknown[] };
    expect(byTime.events).toHaveLength(2);
    const page = (await (await fetch(`${base}?after=${all.events[0]!.seq}&limit=1`, { headers: auth })).json()) as { events: { action: string }[]; lastSeq: number };
    expect(page.events.map((e) => e.action)).toEqual(["secrets.apply"]);
    expect(page.lastSeq).toBe(all.events[1]!.seq);

    for (const bad of ["since=yesterday", "after=-1", "limit=0", "limit=5000"]) {
      const res = await fetch(`${base}?${bad}`, { headers: auth });
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("ERR_BAD_REQUEST");
    }
    db.close();
  });
});

describe("agent-supervisor events (CLI, the daemon down)", () => {
  it("prints the trail from the file, as text and as one JSON object per line, and filters by --since", async () => {
    const { dataDir, db } = dataDirWithTrail();
    db.close();
    const envFile = join(dataDir, "agent-supervisor.env");
    writeFileSync(envFile, `AGENT_SUPERVISOR_DATA_DIR=${dataDir}\n`);

    const text = await runCli(["--config", envFile, "events"]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain("secrets.apply");
    expect(lines[1]).toContain("control-plane");
    expect(lines[1]).toContain('{"version":"7"}');

    const json = await runCli(["--config", envFile, "events", "--json"]);
    const objects = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { action: string; id: string });
    expect(objects.map((o) => o.action)).toEqual(["gateway.start", "secrets.apply", "gateway.restart"]);
    expect(new Set(objects.map((o) => o.id)).size).toBe(3);

    // NOW is in the past for the child's clock: an ISO bound between the entries selects the later ones.
    const since = await runCli(["--config", envFile, "events", "--json", "--since", new Date(NOW - 90 * 60_000).toISOString()]);
    expect(since.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { action: string }).action)).toEqual(["gateway.restart"]);

    const bad = await runCli(["--config", envFile, "events", "--since", "soon"]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain("--since");
  }, 30_000);

  it("a CLI command run by hand (doctor) records its run by the operator in the file, read back by events", async () => {
    const { dataDir, db } = dataDirWithTrail();
    db.close();
    const envFile = join(dataDir, "agent-supervisor.env");
    writeFileSync(envFile, `AGENT_SUPERVISOR_DATA_DIR=${dataDir}\nAGENT_SUPERVISOR_HTTP_PORT=1\nOPENAI_COMPAT_BASE_URL=http://127.0.0.1:1/v1\n`);
    const doctor = await runCli(["--config", envFile, "doctor"], 60_000);
    expect([1, 2]).toContain(doctor.code); // no runtime, no daemon here
    const json = await runCli(["--config", envFile, "events", "--json"]);
    const last = JSON.parse(json.stdout.trim().split("\n").at(-1)!) as { action: string; actor: string; cause: string; detail: { exitCode: number; fail: number } };
    expect(last).toMatchObject({ action: "doctor.run", actor: "operator", cause: "agent-supervisor doctor", detail: { exitCode: doctor.code } });
  }, 90_000);

  it("says there is no database when the daemon never ran (exit 69)", async () => {
    const dataDir = tempDir("as-events-empty-");
    const envFile = join(dataDir, "agent-supervisor.env");
    writeFileSync(envFile, `AGENT_SUPERVISOR_DATA_DIR=${dataDir}\n`);
    const r = await runCli(["--config", envFile, "events"]);
    expect(r.code).toBe(69);
    expect(r.stderr).toContain("no database");
  }, 20_000);
});
