/**
 * TurnDelivery when SQLite refuses a write (issue 10, item 5): a real database file whose writes
 * fail at one site (a trigger that raises, standing in for a full disk at exactly that statement)
 * or at every site (SQLITE_BUSY: a second connection holds the write lock). The delivery loop
 * must survive, keep the turn's job until its verdict is written, show the failing site in
 * {@link WriteFaults}, and send the turn to the gateway once in all.
 */
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { TurnStore, type Turn } from "../../src/store/turns.ts";
import { WriteFaults } from "../../src/store/write-faults.ts";
import { TurnDelivery, type DeliveryPolicy } from "../../src/turns/delivery.ts";
import { TurnService } from "../../src/turns/turn-service.ts";
import { FakeGateway, never, okReply } from "./fake-gateway.ts";
import { memoryLogger, openTestDb, removeTempDirs, waitFor, type TestDb } from "./helpers.ts";

let t: TestDb;
let gw: FakeGateway;
let faults: WriteFaults;
let turns: TurnStore;
let delivery: TurnDelivery;
let service: TurnService;
let stop: AbortController;
let running: Promise<void> | undefined;
let finished: Map<string, Turn[]>;
let rejections: unknown[];
const onRejection = (reason: unknown) => rejections.push(reason);

const policy: DeliveryPolicy = { concurrency: 2, turnTimeoutMs: 30_000, maxAttempts: 5, reconcilePollMs: 20 };

function setup(p: Partial<DeliveryPolicy> = {}): void {
  delivery = new TurnDelivery({
    turns,
    gateway: gw,
    clock: systemClock,
    random: () => 0,
    log: memoryLogger("error").log,
    policy: { ...policy, ...p },
    onFinished: (x) => finished.set(x.id, [...(finished.get(x.id) ?? []), x]),
  });
  service = new TurnService({ turns, now: () => Date.now(), queueLimit: 10, onSubmitted: () => delivery.notify() });
  running = delivery.run(stop.signal);
}

/** Make writes matching `when` (a trigger's WHEN clause on UPDATE OF state) fail until {@link allow}. */
function refuse(name: string, when: string): void {
  t.db.exec(`CREATE TRIGGER ${name} BEFORE UPDATE OF state ON turns WHEN ${when} BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
}
function allow(name: string): void {
  t.db.exec(`DROP TRIGGER ${name}`);
}
const sites = () => faults.current().map((f) => f.site);

beforeEach(() => {
  t = openTestDb();
  t.db.pragma("busy_timeout = 20");
  gw = new FakeGateway();
  faults = new WriteFaults({ now: () => Date.now(), settleMs: 60_000 });
  turns = new TurnStore(t.db, faults);
  stop = new AbortController();
  finished = new Map();
  rejections = [];
  process.on("unhandledRejection", onRejection);
});

afterEach(async () => {
  await delivery?.drain(0);
  stop.abort();
  await running;
  process.off("unhandledRejection", onRejection);
  t.close();
  removeTempDirs();
  expect(rejections, "unhandled rejections").toEqual([]);
  for (const [id, list] of finished) expect(list, `turn ${id} finished once`).toHaveLength(1);
});

describe("a SQLite write that fails", () => {
  it("at the start of a delivery: the dispatcher keeps running, shows the site, and sends the turn once the write lands", async () => {
    refuse("no_start", "NEW.state = 'delivering'");
    gw.handlers.agent = async () => okReply("echo: hi");
    setup();
    const id = service.submit({ conversationId: "c", message: "hi" }).turnId;
    await waitFor(() => sites().includes("turns.startDelivery"), "the failing start to show");
    await new Promise((r) => setTimeout(r, 300));
    expect(turns.get(id)?.state).toBe("accepted");
    expect(gw.callsOf("agent")).toHaveLength(0);

    allow("no_start");
    await waitFor(() => finished.has(id), "the turn to finish", 15_000);
    expect(turns.get(id)).toMatchObject({ state: "done", reply: "echo: hi", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(1);
    expect(sites()).toEqual([]);
  });

  it("at a completion: the job keeps the turn and writes its reply once possible, without asking the gateway again", async () => {
    refuse("no_done", "NEW.state = 'done'");
    gw.handlers.agent = async (_p, opts) => {
      opts?.onAccepted?.({ runId: "run-1", status: "accepted" });
      return okReply("echo: hi");
    };
    setup();
    const id = service.submit({ conversationId: "c", message: "hi" }).turnId;
    await waitFor(() => sites().includes("turns.complete"), "the failing completion to show");
    await new Promise((r) => setTimeout(r, 300));
    expect(turns.get(id)?.state).toBe("delivering");
    expect(delivery.inFlight, "a job still holds the turn").toBe(1);

    allow("no_done");
    await waitFor(() => finished.has(id), "the turn to finish", 15_000);
    expect(turns.get(id)).toMatchObject({ state: "done", reply: "echo: hi", attempts: 1 });
    expect(gw.callsOf("agent")).toHaveLength(1);
    expect(gw.callsOf("agent.wait")).toHaveLength(0);
    expect(gw.callsOf("chat.history")).toHaveLength(0);
  });

  it("at a TURN_TIMEOUT: the turn is not left delivering without a job; the failure is written once possible", async () => {
    refuse("no_fail", "NEW.state = 'failed'");
    gw.handlers.agent = never;
    gw.handlers["chat.history"] = async () => ({ messages: [] });
    gw.handlers["sessions.abort"] = async () => ({ ok: true });
    setup({ turnTimeoutMs: 300, expiryCheckMs: 200 });
    const id = service.submit({ conversationId: "c", message: "hi" }).turnId;
    await waitFor(() => sites().includes("turns.fail"), "the failing TURN_TIMEOUT to show", 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(turns.get(id)?.state).toBe("delivering");
    expect(delivery.inFlight, "a job still holds the turn").toBe(1);

    allow("no_fail");
    await waitFor(() => finished.has(id), "the turn to finish", 15_000);
    expect(turns.get(id)).toMatchObject({ state: "failed", errorCode: "TURN_TIMEOUT" });
    expect(gw.callsOf("agent")).toHaveLength(1);
  });

  it("everywhere, SQLITE_BUSY while another process holds the write lock: delivery waits it out and runs the turn once", async () => {
    gw.handlers.agent = async () => okReply("echo: hi");
    const other = new Database(t.path);
    try {
      setup();
      const paused = delivery.pause(0); // accept the turn first, then lock, then let delivery start it
      const id = service.submit({ conversationId: "c", message: "hi" }).turnId;
      other.exec("BEGIN IMMEDIATE");
      (await paused).release();
      await waitFor(() => faults.current().some((f) => f.code === "SQLITE_BUSY"), "SQLITE_BUSY to show");
      expect(turns.get(id)?.state).toBe("accepted");

      other.exec("COMMIT");
      await waitFor(() => finished.has(id), "the turn to finish", 15_000);
      expect(turns.get(id)).toMatchObject({ state: "done", attempts: 1 });
      expect(gw.callsOf("agent")).toHaveLength(1);
    } finally {
      if (other.inTransaction) other.exec("ROLLBACK");
      other.close();
    }
  });
});

describe("a SQLite read that fails", () => {
  it("when a lease is lost: the turn's run in the gateway is still aborted, from what the job knows", async () => {
    gw.handlers.agent = async (_p, opts) => {
      opts?.onAccepted?.({ runId: "run-9", status: "accepted" });
      return never();
    };
    gw.handlers["sessions.abort"] = async () => ({ ok: true, status: "aborted" });
    setup();
    const id = service.submit({ conversationId: "c", message: "hi" }).turnId;
    await waitFor(() => turns.get(id)?.runId === "run-9", "the run id");
    t.db.exec("ALTER TABLE turns RENAME TO turns_away"); // every read of turns now fails
    try {
      expect(delivery.abortTurn(id)).toBe(true);
      await waitFor(() => gw.callsOf("sessions.abort").length > 0, "sessions.abort", 5_000);
      expect(gw.callsOf("sessions.abort")[0]!.params).toEqual({ key: "agent:main:c", runId: "run-9" });
    } finally {
      t.db.exec("ALTER TABLE turns_away RENAME TO turns");
    }
  });
});
