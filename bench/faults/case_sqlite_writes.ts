/**
 * A SQLite write that fails, at each write site (issue 10, item 5), with the real gateway and the
 * reference control plane. One case per site: a trigger installed from a second connection to the
 * daemon's own database file refuses exactly that statement (as a full disk would refuse it) while
 * turns pass through it; the last case refuses every write for real (`SQLITE_BUSY`: a second
 * connection holds the write lock). The daemon must stay up, name the failing site in /health
 * `store:writes`, retry with backoff, and once the store takes writes again finish every turn
 * exactly once: one model call per turn, one accepted report per central turn.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { getJson, until, type Site } from "../../test/e2e/harness.ts";
import { healthCheck, logRecords, marker, ms, post, sleep, submit, waitEvent, type SubmittedTurn, type Verdict } from "./observe.ts";
import { ACC, BOOT_MS, type RealSession } from "./real-session.ts";
import { combine, modelReceived, recover, sharedRealCase, signalGateway } from "./runner.ts";
import type { FaultCase } from "./types.ts";

/** How long the fault is held after the daemon reported it (ms). */
const HOLD_MS = 4_000;

/** What a site's scenario put through the failing write. */
type Act = { turns: SubmittedTurn[]; central: string[]; notes: string[] };

type SiteSpec = {
  id: string;
  fault: string;
  /** The store method, as /health names it (store/write-faults.ts); "*" for any site with `code`. */
  site: string;
  code?: string;
  how: string;
  /** Trigger name → `BEFORE ... ON ... [WHEN ...]`: each refuses the statements it matches. */
  triggers: Record<string, string>;
  /** Put turns through the failing write (triggers are in place). */
  act: (s: RealSession) => Promise<Act>;
  /** After the fault is lifted (e.g. the control plane offers a turn again). */
  release?: (s: RealSession, act: Act) => void;
};

const dbPath = (site: Site) => join(site.dataDir, "agent-supervisor.db");

/** A turn enqueued at the reference control plane, as a SubmittedTurn (its session is agent:main:<conversation>). */
function enqueue(s: RealSession, tag: string, suffix = ""): SubmittedTurn {
  const m = marker(tag);
  const conversationId = `sqlite-${tag}`;
  const message = `${m}${suffix}`;
  const { turnId } = s.cp!.enqueueTurn({ accountId: ACC, conversationId, message });
  return { id: turnId, conversationId, message, marker: m };
}

const local = async (s: RealSession, tag: string, suffix = ""): Promise<Act> => ({ turns: [await submit(s.site, `sqlite-${tag}`, tag, suffix)], central: [], notes: [] });
const central = (s: RealSession, tag: string, suffix = ""): Act => {
  const t = enqueue(s, tag, suffix);
  return { turns: [t], central: [t.id], notes: [] };
};

const SITES: readonly SiteSpec[] = [
  {
    id: "sqlite-start",
    fault: "SQLite write fails: start of a delivery",
    site: "turns.startDelivery",
    how: "UPDATE turns SET state='delivering' refused while a local turn waits to start.",
    triggers: { fault_start: "UPDATE OF state ON turns WHEN NEW.state = 'delivering'" },
    act: (s) => local(s, "start"),
  },
  {
    id: "sqlite-setrun",
    fault: "SQLite write fails: the run id",
    site: "turns.setRun",
    how: "UPDATE turns SET run_id refused while a local turn is accepted by the gateway (`delay=2000`).",
    triggers: { fault_setrun: "UPDATE OF run_id ON turns WHEN NEW.run_id IS NOT NULL" },
    act: (s) => local(s, "setrun", " delay=2000"),
  },
  {
    id: "sqlite-complete",
    fault: "SQLite write fails: a completion",
    site: "turns.complete",
    how: "UPDATE turns SET state='done' refused when the gateway answers a local turn.",
    triggers: { fault_done: "UPDATE OF state ON turns WHEN NEW.state = 'done'" },
    act: (s) => local(s, "complete"),
  },
  {
    id: "sqlite-events",
    fault: "SQLite write fails: supervisor state (events, generation)",
    site: "events.record",
    how: "INSERT INTO gateway_events and the kv generation counter refused; the gateway is SIGKILLed and a turn is posted while it restarts.",
    triggers: {
      fault_events: "INSERT ON gateway_events",
      fault_gen_insert: "INSERT ON kv WHEN NEW.key = 'gateway.generation'",
      fault_gen_update: "UPDATE ON kv WHEN NEW.key = 'gateway.generation'",
    },
    act: async (s) => {
      // Not with a turn in flight: the gateway's own restart recovery runs such a turn again (gateway-sigkill).
      await signalGateway(s.site, "SIGKILL");
      return local(s, "events");
    },
  },
  {
    id: "sqlite-claim",
    fault: "SQLite write fails: a claimed turn",
    site: "central.acceptClaim",
    how: "INSERT of a claimed central turn refused; once writes succeed the control plane's lease is expired so it offers the turn again.",
    triggers: { fault_claim: "INSERT ON turns WHEN NEW.source = 'central'" },
    act: async (s) => central(s, "claim"),
    release: (s, act) => void s.cp!.expireLease(act.central[0]!),
  },
  {
    id: "sqlite-heartbeat",
    fault: "SQLite write fails: a lease extension",
    site: "central.extendLease",
    how: "UPDATE turns SET lease_expires_at refused for every heartbeat (every 2 s) of a central turn the gateway answers in 12 s (`delay=12000`).",
    triggers: { fault_extend: "UPDATE OF lease_expires_at ON turns" },
    act: async (s) => central(s, "heartbeat", " delay=12000"),
  },
  {
    id: "sqlite-report",
    fault: "SQLite write fails: a result acknowledged",
    site: "central.markReported",
    how: "UPDATE turns SET reported_at refused after the control plane acknowledged a central turn's result.",
    triggers: { fault_report: "UPDATE OF reported_at ON turns WHEN NEW.reported_at IS NOT NULL" },
    act: async (s) => central(s, "report"),
  },
  {
    id: "sqlite-busy",
    fault: "SQLite write fails everywhere: SQLITE_BUSY",
    site: "*",
    code: "SQLITE_BUSY",
    how: "A second connection holds the write lock (BEGIN IMMEDIATE) while a local turn is answered (`delay=1500`) and another is posted.",
    triggers: {},
    act: async (s) => {
      const act = await local(s, "busy", " delay=1500");
      await modelReceived(s, [act.turns[0]!.marker]);
      return act;
    },
  },
];

/** The store:writes check names `spec`'s site (or any site with its code). */
async function failing(site: Site, spec: SiteSpec): Promise<boolean> {
  const c = await healthCheck(site, "store:writes");
  const list = (c?.failing ?? []) as { site: string; code: string }[];
  return c?.status === "fail" && list.some((f) => (spec.site === "*" || f.site === spec.site) && (spec.code === undefined || f.code === spec.code));
}

/** Central turns: exactly one accepted report each, none refused as a conflict or under a lost lease. */
function reportsVerdict(s: RealSession, ids: readonly string[]): { verdict: Verdict; note: string } {
  const v: Verdict = { lost: 0, duplicated: 0, problems: [] };
  const seen: string[] = [];
  for (const id of ids) {
    const t = s.cp!.getTurn(id);
    const outcomes = (t?.reports ?? []).map((r) => r.outcome);
    seen.push(outcomes.join("+") || "none");
    const accepted = outcomes.filter((o) => o === "accept").length;
    if (t?.state !== "done" || accepted === 0) (v.lost++, v.problems.push(`central ${id}: ${t?.state ?? "unknown"} with reports ${outcomes.join(",")}`));
    if (accepted > 1 || outcomes.some((o) => o === "conflict")) (v.duplicated++, v.problems.push(`central ${id}: reports ${outcomes.join(",")}`));
  }
  return { verdict: v, note: ids.length === 0 ? "" : `control plane: reports ${seen.join(", ")}` };
}

function caseOf(spec: SiteSpec): FaultCase {
  return sharedRealCase({
    id: spec.id,
    fault: spec.fault,
    how: `${spec.how} Detected when /health store:writes fails naming ${spec.site === "*" ? spec.code : spec.site}; the fault is held ${HOLD_MS / 1000} s more, then lifted.`,
    async measure(s) {
      const site = s.site;
      const writer = new Database(dbPath(site));
      writer.pragma("busy_timeout = 5000");
      const names = Object.keys(spec.triggers);
      const logsFrom = s.daemon.logs.length;
      let act: Act | undefined;
      let injectAt = 0;
      try {
        for (const [name, on] of Object.entries(spec.triggers)) writer.exec(`CREATE TRIGGER ${name} BEFORE ${on} BEGIN SELECT RAISE(ABORT, 'fault suite: write refused'); END`);
        injectAt = Date.now();
        if (spec.code === "SQLITE_BUSY") {
          act = await spec.act(s);
          writer.exec("BEGIN IMMEDIATE");
        } else act = await spec.act(s);
        const during = spec.code === "SQLITE_BUSY" ? await post(site, "sqlite-busy-post", "busy-post") : undefined;
        await until(`/health store:writes to name ${spec.site}`, () => failing(site, spec), 60_000, 100);
        const detectedAt = Date.now();
        const output = (await healthCheck(site, "store:writes"))?.output ?? "";
        const livez: number[] = [];
        const holdEnd = Date.now() + HOLD_MS;
        while (Date.now() < holdEnd) {
          livez.push((await getJson(site, "/livez").catch(() => ({ status: 0 }))).status);
          await sleep(250);
        }
        const alive = s.daemon.proc.exitCode === null;
        if (writer.inTransaction) writer.exec("COMMIT");
        for (const name of names) writer.exec(`DROP TRIGGER IF EXISTS ${name}`);
        const liftedAt = Date.now();
        spec.release?.(s, act);
        const retried = during?.status === 503 && during.code === "ERR_STORAGE_UNAVAILABLE" ? await submit(site, "sqlite-busy-post", "busy-retry") : undefined;
        const localTurns = [...act.turns, ...(retried ? [retried] : [])];
        const { again, rows, verdict } = await recover(site, `sqlite-${spec.id}-fresh`, localTurns);
        // A site clears when a write there succeeds (for the run id: the fresh turn's).
        const clearedAt = await until("store:writes to pass", async () => ((await healthCheck(site, "store:writes"))?.status === "pass" ? Date.now() : undefined), 90_000, 100).catch(() => null);
        const calls = act.turns.map((t) => s.model.requests.filter((r) => r.prompt.includes(t.marker)).length);
        const reports = reportsVerdict(s, act.central);
        const logs = logRecords(s.daemon.logs.slice(logsFrom));
        const unhandled = logs.filter((r) => r.msg.includes("unhandled promise rejection")).length;
        const crashed = logs.filter((r) => r.msg.includes("daemon loop crashed") || r.msg.includes("turn job crashed")).length;
        const problems: string[] = [];
        if (calls.some((n) => n !== 1)) problems.push(`model calls per turn ${calls.join(",")}`);
        if (!alive) problems.push("the daemon EXITED");
        if (clearedAt === null) problems.push("store:writes did NOT pass again within 90 s");
        if (unhandled + crashed > 0) problems.push(`log: ${unhandled} unhandled rejection(s), ${crashed} loop/job crash(es)`);
        if (during && during.status !== 503) problems.push(`a turn posted during the lock answered ${during.status}`);
        const stale = livez.filter((c) => c !== 200).length;
        const events = spec.id === "sqlite-events" ? await eventsNote(site, injectAt) : "";
        return {
          injectAt,
          detectedAt,
          servingAt: again.doneAt,
          verdict: combine(combine(verdict, reports.verdict), { lost: 0, duplicated: calls.some((n) => n > 1) ? 1 : 0, problems }),
          notes: [
            `/health: ${output.slice(0, 160)}`,
            `held ${HOLD_MS / 1000} s: daemon ${alive ? "alive" : "EXITED"}, /livez 200 in ${livez.length - stale}/${livez.length} polls`,
            during ? `a turn posted meanwhile: ${during.status} ${during.code ?? ""}, accepted when posted again` : "",
            `lifted: turns finished and store:writes pass after ${clearedAt === null ? "—" : ms(clearedAt - liftedAt)} ms`,
            `turns done with attempts ${act.turns.map((t) => rows.get(t.id)?.attempts).join(",")}, model asked ${calls.join(",")}x`,
            reports.note,
            events,
            `log: ${unhandled} unhandled rejections, ${crashed} loop/job crashes`,
          ],
        };
      } finally {
        if (writer.inTransaction) writer.exec("ROLLBACK");
        for (const name of names) writer.exec(`DROP TRIGGER IF EXISTS ${name}`);
        writer.close();
      }
    },
  });
}

/** The supervisor's events written late: the exit and the ready after the SIGKILL must be there. */
async function eventsNote(site: Site, sinceMs: number): Promise<string> {
  const ready = await waitEvent(site, sinceMs, "the held-back ready event", (e) => e.state === "ready", BOOT_MS).catch(() => undefined);
  const exited = await waitEvent(site, sinceMs, "the held-back exit event", (e) => e.state === "exited", 5_000).catch(() => undefined);
  return `events held back and written later: exit ${exited ? "yes" : "NO"}, ready ${ready ? "yes" : "NO"}`;
}

/** One case per write site, in run order. */
export const SQLITE_WRITE_CASES: readonly FaultCase[] = SITES.map(caseOf);
