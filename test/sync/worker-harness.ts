/**
 * A SyncWorker wired like the daemon wires it: real client and fetch against a control plane on
 * 127.0.0.1, a real SQLite file, the system clock; delivery is a stand-in that completes
 * deliverable turns through the real TurnStore (or holds them, to keep leases in flight).
 */
import { createHook } from "node:async_hooks";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { systemClock, type Clock } from "../../src/core/clock.ts";
import { CentralTurnStore } from "../../src/store/central.ts";
import { openDb, type Db } from "../../src/store/db.ts";
import { TurnStore } from "../../src/store/turns.ts";
import { createControlPlaneClient, type ControlPlaneClient } from "../../src/sync/client.ts";
import type { ControlPlaneError } from "../../src/sync/errors.ts";
import { SyncWorker, type StatusSnapshotInput, type SyncPolicy, type SyncWorkerDeps } from "../../src/sync/worker.ts";
import { startReferenceControlPlane, type RunningControlPlane, type StartReferenceControlPlaneOptions } from "../../src/dev/control-plane/server.ts";
import { memoryLogger, removeTempDirs, tempDir, type LogSink } from "../integration/helpers.ts";
import { ACCOUNT, RUNTIME, startFake, TOKEN, type RunningFake } from "./fake-control-plane.ts";

/** Fast timings for tests (ms). */
export const FAST: SyncPolicy = {
  claimMax: 4,
  claimWaitMs: 1_000,
  idleJitterMs: 20,
  heartbeatIntervalMs: 100,
  statusIntervalMs: 10_000,
  backoffMaxMs: 200,
  backoffInitialMs: 20,
  authRetryMs: 10_000,
  capacityPollMs: 50,
  outboxPollMs: 200,
};

export const STATUS: StatusSnapshotInput = {
  daemonVersion: "0.1.0-test",
  openclawVersion: "2026.9.6",
  gatewayState: "ready",
  status: "online",
  reason: null,
  host: { cpuLoadPercent: 0, memTotalBytes: 0, memAvailableBytes: 0, diskTotalBytes: 0, diskFreeBytes: 0 },
  queue: { accepted: 0, delivering: 0, outbox: 0 },
};

export type HarnessOptions = {
  url: string;
  dbPath: string;
  policy?: Partial<SyncPolicy>;
  /** Free slots; default 4. */
  capacity?: () => number;
  /** Complete claimed turns at once (default true); false keeps them delivering. */
  autoDeliver?: boolean;
  client?: ControlPlaneClient;
  token?: string;
  /** The worker's clock; default the system clock. */
  clock?: Clock;
  /** The status it reports; default {@link STATUS}. */
  status?: () => StatusSnapshotInput;
  /** Told of claims and their announced versions (issue 15), e.g. a SecretsPoller. */
  announcements?: SyncWorkerDeps["announcements"];
};

/** A running worker and what it called back. */
export type Harness = {
  worker: SyncWorker;
  db: Db;
  turns: TurnStore;
  central: CentralTurnStore;
  sink: LogSink;
  claimed: number;
  leaseLost: string[];
  authFailures: ControlPlaneError[];
  recovered: number;
  /** Complete every deliverable turn now (reply `echo: <message>`) and notify the worker. */
  deliverAll(): void;
  /** Abort and wait for run() to resolve; closes the database. Returns how long run() took to stop (ms). */
  stop(): Promise<number>;
};

export function startWorker(o: HarnessOptions): Harness {
  const db = openDb(o.dbPath);
  const turns = new TurnStore(db);
  const central = new CentralTurnStore(db);
  const sink = memoryLogger("debug");
  const client =
    o.client ??
    createControlPlaneClient({ baseUrl: o.url, token: o.token ?? TOKEN, runtimeId: RUNTIME, accountId: ACCOUNT, fetch: globalThis.fetch, requestTimeoutMs: 2_000, log: sink.log });
  const ac = new AbortController();
  const h: Harness = {
    worker: undefined as unknown as SyncWorker,
    db,
    turns,
    central,
    sink,
    claimed: 0,
    leaseLost: [],
    authFailures: [],
    recovered: 0,
    deliverAll() {
      for (const t of turns.deliverable(100)) {
        turns.startDelivery(t.id, Date.now(), 600_000);
        turns.complete(t.id, `echo: ${t.message}`, Date.now());
      }
      h.worker.notifyResult();
    },
    async stop() {
      const t0 = Date.now();
      ac.abort();
      await running;
      const took = Date.now() - t0;
      if (db.open) db.close();
      return took;
    },
  };
  h.worker = new SyncWorker({
    client,
    central,
    intake: central,
    clock: o.clock ?? systemClock,
    random: Math.random,
    log: sink.log,
    policy: { ...FAST, ...o.policy },
    capacity: o.capacity ?? (() => 4),
    onClaimed: () => {
      h.claimed++;
      if (o.autoDeliver !== false) queueMicrotask(() => h.deliverAll());
    },
    onLeaseLost: (id) => h.leaseLost.push(id),
    statusSnapshot: async () => (o.status ? o.status() : STATUS),
    ...(o.announcements ? { announcements: o.announcements } : {}),
    onAuthFailure: (err) => h.authFailures.push(err),
    onAuthRecovered: () => h.recovered++,
  });
  const running = h.worker.run(ac.signal);
  return h;
}

/** One test's fake control plane and worker (see {@link useWorkerOnFake}). */
export type FakeSite = {
  /** The fake control plane of the running test. */
  readonly fake: RunningFake;
  /** Start the test's worker (afterEach stops it) against the fake, on a fresh database file. */
  start(o?: Partial<HarnessOptions>): Harness;
  /** Stop the test's worker now. @returns how long run() took to stop (ms) */
  stopWorker(): Promise<number>;
  /** Close the fake control plane (connections are then refused). */
  closeFake(): Promise<void>;
  /** Start a fake again on `port`, with the state of the closed one. */
  reopenFake(port: number): Promise<void>;
};

/**
 * Register the beforeEach/afterEach of worker tests against the fake control plane
 * (fake-control-plane.ts): a fresh fake and database path per test; after each test the worker
 * and the fake are stopped and the temp dirs removed. Call once at the top of a test file.
 */
export function useWorkerOnFake(): FakeSite {
  let fake: RunningFake;
  let dbPath: string;
  let h: Harness | undefined;
  beforeEach(async () => {
    fake = await startFake();
    dbPath = join(tempDir("as-sync-"), "agent-supervisor.db");
  });
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    await fake.close();
    removeTempDirs();
  });
  return {
    get fake() {
      return fake;
    },
    start(o = {}) {
      h = startWorker({ url: fake.url, dbPath, ...o });
      return h;
    },
    async stopWorker() {
      const took = (await h?.stop()) ?? 0;
      h = undefined;
      return took;
    },
    closeFake: () => fake.close(),
    async reopenFake(port) {
      fake = await startFake(fake.cp, port);
    },
  };
}

/**
 * The system clock with its wall clock (`now`) off by `skew.ms` (change it to step the clock);
 * the monotonic clock and sleeps are real. A host clock that is wrong, or set by NTP mid-run.
 */
export function skewedClock(skew: { ms: number }): Clock {
  return { ...systemClock, now: () => Date.now() + skew.ms };
}

/** Resolve after `ms` (real time). */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Track timers whose setTimeout was called directly from the project's own code (src/), as
 * opposed to undici's or node:http's keep-alive timers of the same process. `live()` lists the
 * call sites of those not yet fired or cleared.
 */
export function trackOwnTimers(): { live(): string[]; stop(): void } {
  const own = new Map<number, string>();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 20;
  const hook = createHook({
    init(id, type) {
      if (type !== "Timeout") return;
      const frames = new Error().stack!.split("\n");
      const i = frames.findIndex((f) => /at setTimeout \(node:timers/.test(f));
      const caller = i >= 0 ? frames[i + 1] : undefined;
      if (caller?.includes("/src/")) own.set(id, caller.trim());
    },
    destroy(id) {
      own.delete(id);
    },
  }).enable();
  return {
    live: () => [...own.values()],
    stop: () => {
      hook.disable();
      Error.stackTraceLimit = limit;
    },
  };
}

/** What {@link referencePlaneSuite} gives each test: the plane, a fresh database path and a worker starter. */
export type ReferencePlaneSuite = {
  cp: RunningControlPlane;
  dbPath: string;
  /** Start a worker against `cp` on `dbPath` (stopped after the test). */
  start(o?: Partial<HarnessOptions>): Harness;
  /** Outcomes of the reports the plane received for a turn, in order. */
  outcomes(turnId: string): string[];
};

/**
 * Register beforeEach/afterEach for a file of worker tests against the reference control plane on
 * 127.0.0.1 (RUNTIME of ACCOUNT registered, `opts` over that): a fresh plane and database path per
 * test; the worker, the plane and the temp directories are gone after it.
 */
export function referencePlaneSuite(prefix: string, opts: Partial<StartReferenceControlPlaneOptions> = {}): ReferencePlaneSuite {
  let h: Harness | undefined;
  const suite: ReferencePlaneSuite = {
    cp: undefined as unknown as RunningControlPlane,
    dbPath: "",
    start: (o = {}) => (h = startWorker({ url: suite.cp.url, dbPath: suite.dbPath, ...o })),
    outcomes: (turnId) => suite.cp.getTurn(turnId)!.reports.map((r) => r.outcome),
  };
  beforeEach(async () => {
    suite.cp = await startReferenceControlPlane({ serviceToken: TOKEN, runtimes: [{ runtimeId: RUNTIME, accountId: ACCOUNT }], ...opts });
    suite.dbPath = join(tempDir(prefix), "agent-supervisor.db");
  });
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    await suite.cp.close();
    removeTempDirs();
  });
  return suite;
}
