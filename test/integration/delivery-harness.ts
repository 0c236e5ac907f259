/**
 * Shared set-up for the TurnDelivery integration tests (delivery.test.ts,
 * delivery-scheduling.test.ts): a real SQLite TurnStore, the in-process fake gateway connection
 * (fake-gateway.ts), and a TurnDelivery plus TurnService wired together by {@link setup}.
 *
 * Call {@link useDeliveryHarness} at the top of a test file to register the beforeEach/afterEach
 * that open a fresh database and fake gateway, and after each test drain and stop delivery and
 * check that no turn was reported finished twice. `db`, `gw`, `delivery`, `service` and
 * `finished` are live bindings renewed per test.
 */
import { afterEach, beforeEach, expect } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { TurnDelivery, type DeliveryDeps, type DeliveryPolicy } from "../../src/turns/delivery.ts";
import { TurnService } from "../../src/turns/turn-service.ts";
import type { Turn } from "../../src/store/turns.ts";
import { FakeGateway } from "./fake-gateway.ts";
import { memoryLogger, openTestDb, removeTempDirs, type TestDb } from "./helpers.ts";

export let db: TestDb;
export let gw: FakeGateway;
export let delivery: TurnDelivery;
export let service: TurnService;
let controller: AbortController;
let running: Promise<void> | undefined;
/** Turns delivery reported finished in this test, by id. */
export let finished: Map<string, Turn>;
let finishWaiters: Map<string, (t: Turn) => void>;
let finishedTwice: string[];

/**
 * idleLookMs: an hour, so no test passes on the dispatcher's idle safety net: every path that lets
 * a turn start must wake it (issue 15, goal 2). A test of the default passes `idleLookMs: undefined`.
 */
const basePolicy: DeliveryPolicy = { concurrency: 4, turnTimeoutMs: 30_000, maxAttempts: 5, reconcilePollMs: 20, idleLookMs: 3_600_000 };

/** Makes the test's TurnDelivery (policy over the defaults, and optional deps) and TurnService; call first in a test. */
export function setup(policy: Partial<DeliveryPolicy> = {}, deps: Pick<DeliveryDeps, "sessionHeld"> = {}): void {
  delivery = new TurnDelivery({
    ...deps,
    turns: db.turns,
    gateway: gw,
    clock: systemClock,
    log: memoryLogger("warn").log,
    policy: { ...basePolicy, ...policy },
    onFinished: (t) => {
      if (finished.has(t.id)) finishedTwice.push(t.id);
      finished.set(t.id, t);
      finishWaiters.get(t.id)?.(t);
      service.finished(t.id);
    },
  });
  // As the daemon wires it (daemon/assemble.ts): a turn submitted while delivery has a free slot is
  // committed straight into `delivering` and launched; one submitted before start() waits `accepted`.
  service = new TurnService({ turns: db.turns, now: () => Date.now(), queueLimit: 100, onSubmitted: () => delivery.notify(), startNow: (key) => delivery.reserve(key) });
}

/** Starts the delivery loop; afterEach stops it. */
export function start(): void {
  running = delivery.run(controller.signal);
}

/** Resolves with the turn once delivery finished it (done or failed). */
export function whenFinished(id: string): Promise<Turn> {
  const t = finished.get(id);
  if (t) return Promise.resolve(t);
  return new Promise((res) => finishWaiters.set(id, res));
}

/** Submits a turn through the TurnService; returns its id. */
export function submit(conversationId: string, message = "hi"): string {
  return service.submit({ conversationId, message }).turnId;
}

function reset(): void {
  db = openTestDb();
  gw = new FakeGateway();
  controller = new AbortController();
  running = undefined;
  finished = new Map();
  finishWaiters = new Map();
  finishedTwice = [];
  delivery = undefined as unknown as TurnDelivery;
}

async function teardown(): Promise<void> {
  if (delivery) await delivery.drain(0);
  controller.abort();
  await running;
  db.close();
  removeTempDirs();
  expect(finishedTwice, "turns reported finished more than once").toEqual([]);
}

/** Registers the beforeEach/afterEach of the delivery tests; call once at the top of a test file. */
export function useDeliveryHarness(): void {
  beforeEach(reset);
  afterEach(teardown);
}
