/**
 * The one scaffold every fault case runs in. A case states what it injects, what detection looks
 * like and what it verifies, and hands back an {@link Outcome}; the runner owns the rest: setting
 * up a stand-in site or the shared real session and tearing it down, the waits several cases share
 * (a turn in flight at the model, serving again), the check that no accepted turn was lost or
 * duplicated, and the {@link FaultResult} record with its times measured from the injection.
 */
import { gatewayPid, until, type Site } from "../../test/e2e/harness.ts";
import {
  finishAll,
  ms,
  servingAgain,
  submit,
  turnRows,
  verifyDone,
  verifyQueued,
  waitEvent,
  type EventRow,
  type ServingAgain,
  type SubmittedTurn,
  type TurnRow,
  type Verdict,
} from "./observe.ts";
import { auditVerdict, watchAudit } from "./audit-check.ts";
import { BOOT_MS, type RealSession } from "./real-session.ts";
import { startStandIn, stopDaemon, type StandInBehaviour, type StandInSite } from "./stand-in.ts";
import type { FaultCase, FaultContext, FaultResult } from "./types.ts";

/** What a case measured. Times are epoch ms; the result's times are ms from `injectAt`. */
export type Outcome = {
  /** The moment the fault was injected (each case says which moment that is). */
  injectAt: number;
  /** The daemon's first recorded reaction, or null when none came (the notes say so). */
  detectedAt: number | null;
  /** When a fresh turn submitted after /readyz 200 again was done; null or absent where nothing can serve. */
  servingAt?: number | null;
  /** Lost and duplicated turns (or notes, or reports), with one problem line each; absent: none. */
  verdict?: Verdict;
  /** Phrases of the result's notes, in order ("" is dropped); the verdict's problems follow. */
  notes: readonly string[];
  /** Phrases after the problems (e.g. the daemon's log warnings). */
  after?: readonly string[];
};

/** What a case on a stand-in site measured: as {@link Outcome}, plus the turns that must still be queued. */
export type StandInOutcome = Outcome & {
  /** Turns accepted before or during the fault; {@link withStandIn} verifies each still queued, in one row. */
  queued?: readonly SubmittedTurn[];
};

/** No turn lost or duplicated, nothing to report. */
const CLEAN: Verdict = { lost: 0, duplicated: 0, problems: [] };

/** Two verdicts as one: counts added, problems of `a` first. */
export function combine(a: Verdict, b: Verdict = CLEAN): Verdict {
  return { lost: a.lost + b.lost, duplicated: a.duplicated + b.duplicated, problems: [...a.problems, ...b.problems] };
}

/**
 * The result record of case `c` from what it measured (pure): detection and serving again in ms
 * from the injection (null where the outcome has none), the verdict's counts, and the notes, its
 * problems and the `after` phrases joined by "; ".
 */
export function resultOf(c: Pick<FaultCase, "fault" | "realGateway">, o: Outcome): FaultResult {
  const v = o.verdict ?? CLEAN;
  return {
    fault: c.fault,
    realGateway: c.realGateway,
    detectedMs: o.detectedAt === null ? null : ms(o.detectedAt - o.injectAt),
    servingAgainMs: o.servingAt === null || o.servingAt === undefined ? null : ms(o.servingAt - o.injectAt),
    lost: v.lost,
    duplicated: v.duplicated,
    notes: [...o.notes, ...v.problems, ...(o.after ?? [])].filter((x) => x !== "").join("; "),
  };
}

/** A case as declared: everything a {@link FaultCase} lists, and `measure` in place of `run`. */
export type CaseSpec = Omit<FaultCase, "run"> & {
  /** Set up, inject, wait and verify; the runner turns the outcome into the result. */
  measure: (ctx: FaultContext) => Promise<Outcome>;
};

/**
 * A case whose `run` measures and then builds its result with {@link resultOf}, the audit trail of
 * every site it ran on checked (audit-check.ts): a gap counts like a lost turn.
 */
export function faultCase(spec: CaseSpec): FaultCase {
  const { measure, ...c } = spec;
  return {
    ...c,
    run: async (ctx) => {
      const startedAt = Date.now();
      const o = await measure(ctx);
      return resultOf(c, { ...o, verdict: combine(o.verdict ?? CLEAN, await auditVerdict(startedAt)) });
    },
  };
}

// --- Stand-in gateways --------------------------------------------------------------------------

/**
 * Start a stand-in site in `dir` (see {@link startStandIn}), run `body` on it, verify its `queued`
 * turns (before the daemon stops), and stop whichever daemon `s.daemon` names by then (a body may
 * replace it, e.g. after killing the first).
 * @returns the body's outcome, the queued turns' verdict combined with the body's own
 */
export async function withStandIn(
  dir: string,
  runtimeDir: string,
  behaviour: StandInBehaviour,
  settings: Record<string, string>,
  body: (s: StandInSite) => Promise<StandInOutcome>,
): Promise<Outcome> {
  const s = await startStandIn(dir, runtimeDir, behaviour, settings);
  try {
    const { queued, ...o } = await body(s);
    return queued ? { ...o, verdict: combine(verifyQueued(s.site, queued), o.verdict) } : o;
  } finally {
    await stopDaemon(s.site, s.daemon);
  }
}

/** A fast case on a fresh stand-in site in the case's work directory. */
export function standInCase(
  spec: Omit<FaultCase, "run" | "fast" | "realGateway"> & {
    /** What the stand-in does when started as the gateway. */
    behaviour: StandInBehaviour;
    /** Env-file settings over the stand-in defaults. */
    settings: Record<string, string>;
    /** Inject and observe on the running site. */
    measure: (s: StandInSite, ctx: FaultContext) => Promise<StandInOutcome>;
  },
): FaultCase {
  const { behaviour, settings, measure, ...c } = spec;
  return faultCase({ ...c, fast: true, realGateway: false, measure: (ctx) => withStandIn(ctx.workDir, ctx.runtimeDir, behaviour, settings, (s) => measure(s, ctx)) });
}

/** The stand-in's first spawn (the daemon's first `starting` event with a pid; 20 s at most). */
export function standInSpawned(site: Site): Promise<EventRow> {
  return waitEvent(site, 0, "the stand-in's spawn", (e) => e.state === "starting" && e.pid !== null, 20_000);
}

// --- The real gateway ---------------------------------------------------------------------------

/** A real-gateway case on the shared session (booted on first use, kept for the next case). */
export function sharedRealCase(
  spec: Omit<FaultCase, "run" | "fast" | "realGateway"> & {
    /** Inject and observe on the shared session. */
    measure: (s: RealSession, ctx: FaultContext) => Promise<Outcome>;
  },
): FaultCase {
  const { measure, ...c } = spec;
  return faultCase({
    ...c,
    fast: false,
    realGateway: true,
    measure: async (ctx) => {
      const s = await ctx.real.shared();
      watchAudit(s.site);
      return measure(s, ctx);
    },
  });
}

/** Wait until the session's mock model has been asked about every marker (60 s at most). */
export async function modelReceived(s: RealSession, markers: readonly string[]): Promise<void> {
  const what = markers.length === 1 ? "the model to receive the turn" : "the model to receive every turn";
  await until(what, () => markers.every((m) => s.model.requests.some((r) => r.prompt.includes(m))), 60_000, 20);
}

/** Submit a turn whose answer the mock model delays by `delayMs`, and wait until the model has it. */
export async function inflightTurn(s: RealSession, conversationId: string, tag: string, delayMs: number): Promise<SubmittedTurn> {
  const turn = await submit(s.site, conversationId, tag, ` delay=${delayMs}`);
  await modelReceived(s, [turn.marker]);
  return turn;
}

/** Send `signal` to the site's gateway; `injectAt` is epoch ms just before the signal. */
export async function signalGateway(site: Site, signal: NodeJS.Signals): Promise<{ pid: number; injectAt: number }> {
  const pid = await gatewayPid(site);
  const injectAt = Date.now();
  process.kill(pid, signal);
  return { pid, injectAt };
}

/** What {@link recover} saw: serving again, the turns' rows once finished, and the verdict. */
export type Recovery = { again: ServingAgain; rows: Map<string, TurnRow>; verdict: Verdict };

/**
 * Call once the daemon has reacted to the fault: wait until it serves again (a fresh turn in
 * `conversationId`, up to BOOT_MS), let `turns` finish, read their rows, then verify them and the
 * fresh turn done exactly once in the database and the transcript ({@link verifyDone}).
 * @param timeoutMs for serving again and for the turns (default BOOT_MS)
 */
export async function recover(site: Site, conversationId: string, turns: readonly SubmittedTurn[], timeoutMs = BOOT_MS): Promise<Recovery> {
  const again = await servingAgain(site, conversationId, timeoutMs);
  await finishAll(site, turns, timeoutMs);
  const rows = turnRows(site, turns.map((t) => t.id));
  const verdict = await verifyDone(site, [...turns, again.turn]);
  return { again, rows, verdict };
}
