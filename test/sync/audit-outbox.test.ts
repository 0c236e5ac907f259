/**
 * The audit outbox against the real reference control plane on 127.0.0.1 (real HTTP, the real
 * client and contract checks) over a real SQLite file: batches shipped at least once and stored
 * once, a 503 then success, and an older control plane without the operation (404).
 */
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { startReferenceControlPlane, type RunningControlPlane } from "../../src/dev/control-plane/server.ts";
import { auditEntry, AuditStore } from "../../src/store/audit.ts";
import { AUDIT_BATCH_MAX_BYTES, AuditOutbox, AUDIT_UNSUPPORTED_RETRY_MS, auditWire, fitBatch } from "../../src/sync/audit-outbox.ts";
import { createControlPlaneClient } from "../../src/sync/client.ts";
import { memoryLogger, openTestDb, removeTempDirs, type TestDb } from "../integration/helpers.ts";

const TOKEN = "service-token-for-tests";
let t: TestDb | undefined;
let cp: RunningControlPlane | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
  t?.close();
  removeTempDirs();
});

let n = 0;
const uuid = () => `10000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;

async function setup(o: { auditEvents?: boolean; entries: number; batch?: number }) {
  cp = await startReferenceControlPlane({ serviceToken: TOKEN, runtimes: [{ runtimeId: "rt-1", accountId: "acc-1" }], ...(o.auditEvents === undefined ? {} : { auditEvents: o.auditEvents }) });
  t = openTestDb();
  const store = new AuditStore(t.db);
  for (let i = 0; i < o.entries; i++) store.append(auditEntry({ actor: "daemon", action: "gateway.start", cause: `boot ${i}`, detail: { generation: i + 1 } }, uuid(), 1_700_000_000_000 + i));
  const client = createControlPlaneClient({ baseUrl: cp.url, token: TOKEN, runtimeId: "rt-1", accountId: "acc-1", fetch: globalThis.fetch });
  const sink = memoryLogger();
  const gauge: number[] = [];
  const outbox = new AuditOutbox({ client, store, clock: systemClock, random: () => 0, log: sink.log, backoffMaxMs: 30_000, batch: o.batch, onUnshipped: (c) => gauge.push(c) });
  return { store, client, outbox, sink, gauge, cp };
}

describe("AuditOutbox against the reference control plane", () => {
  it("ships in batches, marks what the control plane holds, and a batch sent again is stored once", async () => {
    const { store, client, outbox, gauge, cp } = await setup({ entries: 5, batch: 2 });
    const first = store.unshipped(2);
    expect(await outbox.shipOnce()).toBe(0); // a full batch: more may be due
    expect(await outbox.shipOnce()).toBe(0);
    expect(await outbox.shipOnce()).toBeGreaterThan(0); // the last one (a partial batch): wait for new entries
    expect(store.counts()).toEqual({ total: 5, unshipped: 0 });
    expect(gauge.at(-1)).toBe(0);
    // A retry after a lost acknowledgement: the same ids again; the control plane keeps one copy each.
    const again = await client.shipAuditEvents(first.map((e) => ({ id: e.id, seq: e.seq, at: new Date(e.at).toISOString(), actor: e.actor, action: e.action, cause: e.cause, detail: e.detail })));
    expect(again.sort()).toEqual(first.map((e) => e.id).sort());
    const held = cp.auditEvents.list("rt-1");
    expect(held.map((e) => e.cause)).toEqual(["boot 0", "boot 1", "boot 2", "boot 3", "boot 4"]);
    expect(held[0]).toMatchObject({ actor: "daemon", action: "gateway.start", detail: { generation: 1 }, at: new Date(1_700_000_000_000).toISOString() });
  });

  it("keeps the entries through a 503 and ships them on the next try", async () => {
    const { store, outbox, sink, cp } = await setup({ entries: 3 });
    cp.faults.add({ operation: "shipAuditEvents", times: 1, action: { kind: "status", status: 503 } });
    const wait = await outbox.shipOnce();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThan(AUDIT_UNSUPPORTED_RETRY_MS);
    expect(store.counts().unshipped).toBe(3);
    expect(sink.text()).toContain("shipping audit entries failed; retrying");
    await outbox.shipOnce();
    expect(store.counts().unshipped).toBe(0);
    expect(cp.auditEvents.list("rt-1")).toHaveLength(3);
  });

  it("a refused batch (400) is halved until it goes; an entry refused on its own is set aside and the rest ships (before: the same batch was retried forever)", async () => {
    const { store, outbox, sink, cp } = await setup({ entries: 4, batch: 4 });
    // Refused three times: 4 entries, then 2, then the oldest alone.
    cp.faults.add({ operation: "shipAuditEvents", times: 3, action: { kind: "status", status: 400 } });
    for (let i = 0; i < 6 && store.counts().unshipped > 1; i++) await outbox.shipOnce();
    expect(outbox.refused).toBe(1);
    expect(store.counts().unshipped).toBe(1);
    expect(cp.auditEvents.list("rt-1").map((e) => e.cause)).toEqual(["boot 1", "boot 2", "boot 3"]);
    expect(sink.text()).toContain("refused an audit entry on its own");
    expect(await outbox.shipOnce()).toBeGreaterThan(0); // nothing else due: the set-aside entry is not offered again
  });

  it("fitBatch cuts a batch to AUDIT_BATCH_MAX_BYTES of JSON, never below one entry", () => {
    const big = (i: number) => auditEntry({ actor: "daemon", action: "gateway.start", cause: "x".repeat(1000), detail: { pad: "y".repeat(7000) } }, uuid(), i);
    const entries = Array.from({ length: 100 }, (_, i) => ({ ...big(i), seq: i + 1, shippedAt: null }));
    const cut = fitBatch(entries, AUDIT_BATCH_MAX_BYTES);
    expect(cut.length).toBeGreaterThan(1);
    expect(cut.length).toBeLessThan(100);
    expect(Buffer.byteLength(JSON.stringify(cut.map(auditWire)))).toBeLessThanOrEqual(AUDIT_BATCH_MAX_BYTES);
    expect(fitBatch(entries.slice(0, 1), 10)).toHaveLength(1);
  });

  it("an older control plane without the operation (404): kept, asked again after a long pause, said once", async () => {
    const { store, outbox, sink } = await setup({ entries: 2, auditEvents: false });
    expect(await outbox.shipOnce()).toBe(AUDIT_UNSUPPORTED_RETRY_MS);
    expect(await outbox.shipOnce()).toBe(AUDIT_UNSUPPORTED_RETRY_MS);
    expect(store.counts().unshipped).toBe(2);
    expect(sink.lines().filter((l) => String(l.msg).includes("does not take audit events"))).toHaveLength(1);
  });

  it("the run loop ships a new entry when notified and stops leaving no timer", async () => {
    const { store, outbox } = await setup({ entries: 0 });
    const stop = new AbortController();
    const running = outbox.run(stop.signal);
    store.append(auditEntry({ actor: "operator", action: "doctor.run", cause: "agent-supervisor doctor" }, uuid(), 1));
    outbox.notify();
    const deadline = Date.now() + 10_000;
    while (store.counts().unshipped > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(store.counts().unshipped).toBe(0);
    stop.abort();
    await running;
  });
});
