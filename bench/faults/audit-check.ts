/**
 * The audit-trail check of every case (issue 13): each action the daemon took during the case's
 * run must have its audit entry. Read from outside, in the site's SQLite file: every gateway start,
 * stop, restart decision and hold in `gateway_events` needs its `audit_events` entry of the same
 * generation, every session repair its `session.repair` entry, every EX_CONFIG doctor step its
 * `doctor.run`, and every restart for a rotation a `secrets.apply` or `skills.apply` before it.
 * A gap is reported like a lost turn (it counts in `lost`), so a run with one fails.
 *
 * The sites a case runs on are registered as they are made ({@link watchAudit}: stand-in sites,
 * real sessions, the shared session at each use); the runner checks them all after the case.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Site } from "../../test/e2e/harness.ts";
import { withDb, type EventRow, type Verdict } from "./observe.ts";

/** An audit_events row as the check reads it (`detail` parsed). `at` is epoch ms. */
export type AuditRow = { seq: number; at: number; actor: string; action: string; cause: string; detail: Record<string, unknown> };

/** Which audit action a gateway event must have, if any. Pure. */
export function requiredAction(e: Pick<EventRow, "state" | "reason" | "pid">): string | undefined {
  if (e.state === "starting" && e.pid !== null) return "gateway.start";
  if (e.state === "starting" && (e.reason ?? "").includes("running openclaw doctor")) return "doctor.run";
  if (e.state === "stopped" && e.reason === "stopped") return "gateway.stop";
  if (e.state === "backoff") return "gateway.restart";
  if (e.state === "failed" && !(e.reason ?? "").startsWith("cannot start gateway")) return "gateway.hold";
  if (e.state === "session-repair") return "session.repair";
  return undefined;
}

/**
 * The gaps between the gateway events and the audit trail of one window (pure): one line per
 * action whose entries are fewer than its events, per generation (session repairs overall), and
 * one per rotation restart with no `secrets.apply`/`skills.apply` entry at or before it.
 */
export function auditGaps(events: readonly EventRow[], audit: readonly AuditRow[]): string[] {
  const key = (action: string, generation: unknown) => (action === "session.repair" ? action : `${action}@${String(generation)}`);
  const need = new Map<string, number>();
  for (const e of events) {
    const action = requiredAction(e);
    if (action !== undefined) need.set(key(action, e.generation), (need.get(key(action, e.generation)) ?? 0) + 1);
  }
  const have = new Map<string, number>();
  for (const a of audit) have.set(key(a.action, a.detail.generation), (have.get(key(a.action, a.detail.generation)) ?? 0) + 1);
  const gaps: string[] = [];
  for (const [k, n] of need) {
    const got = have.get(k) ?? 0;
    if (got < n) gaps.push(`audit trail: ${n - got} of ${n} ${k.replace("@", " of generation ")} without an entry`);
  }
  for (const e of events) {
    if (e.state !== "stopping" || e.reason !== "restart requested (rotation)") continue;
    if (!audit.some((a) => (a.action === "secrets.apply" || a.action === "skills.apply") && a.at <= e.at)) {
      gaps.push(`audit trail: the rotation restart of generation ${e.generation} has no secrets.apply or skills.apply entry`);
    }
  }
  return gaps;
}

/** Sites to check after the current case, by data directory. */
const watched = new Map<string, Site>();

/** Check `site` after the current case (call where a case's site is made or reused). */
export function watchAudit(site: Site): void {
  watched.set(site.dataDir, site);
}

function read(site: Site, sinceMs: number): { events: EventRow[]; audit: AuditRow[] } | undefined {
  if (!existsSync(join(site.dataDir, "agent-supervisor.db"))) return undefined;
  return withDb(site, (db) => {
    const hasAudit = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'audit_events'`).get() !== undefined;
    const events = db.prepare("SELECT * FROM gateway_events WHERE at >= ? ORDER BY id").all(sinceMs) as EventRow[];
    const rows = hasAudit ? (db.prepare("SELECT seq, at, actor, action, cause, detail FROM audit_events WHERE at >= ? ORDER BY seq").all(sinceMs) as (Omit<AuditRow, "detail"> & { detail: string })[]) : [];
    return { events, audit: rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> })) };
  });
}

/**
 * Check every site registered since the last call, for the window from `sinceMs` (epoch ms), and
 * forget them. A running daemon writes an entry just after its event, and one SQLite refused is
 * written when writes resume (backoff up to 30 s): gaps are looked at again for up to `settleMs`.
 * @returns gaps as lost entries, one problem line each
 */
export async function auditVerdict(sinceMs: number, settleMs = 40_000): Promise<Verdict> {
  const sites = [...watched.values()];
  watched.clear();
  const problems: string[] = [];
  for (const site of sites) {
    const deadline = Date.now() + settleMs;
    let gaps: string[] = [];
    for (;;) {
      const r = read(site, sinceMs);
      gaps = r ? auditGaps(r.events, r.audit) : [];
      if (gaps.length === 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    problems.push(...gaps);
  }
  return { lost: problems.length, duplicated: 0, problems };
}
