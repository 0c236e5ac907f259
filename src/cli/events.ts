/**
 * `agent-supervisor events [--since <time|duration>] [--follow] [--json]`: the audit trail, read
 * straight from the daemon's SQLite file (so it works while the daemon is down). `--follow` keeps
 * polling for entries after the last seq printed; `--json` prints one JSON object per line.
 */
import { existsSync } from "node:fs";
import { type Command, InvalidArgumentError } from "commander";
import type { Clock } from "../core/clock.ts";
import { dataDirLayout } from "../core/data-dir.ts";
import { UnavailableError } from "../core/errors.ts";
import { auditEntryJson, AuditStore, parseSince, type AuditEntry } from "../store/audit.ts";
import { openDb } from "../store/db.ts";
import { loadNativeSqliteBinding } from "../store/native.ts";
import { giveBackDbFiles } from "./audit.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";

/** How often `--follow` looks for new entries (ms). */
export const FOLLOW_POLL_MS = 1000;
/** Entries read per query. */
const PAGE = 500;

/** One entry as a line of text: time, action, actor, cause, then the detail as JSON. Pure. */
export function formatAuditLine(e: AuditEntry): string {
  const detail = Object.keys(e.detail).length > 0 ? `  ${JSON.stringify(e.detail)}` : "";
  return `${new Date(e.at).toISOString()}  #${e.seq}  ${e.action.padEnd(16)} ${e.actor.padEnd(13)} ${e.cause}${detail}`;
}

/** Inputs of {@link runEventsCommand}. */
export type EventsCommandOptions = {
  store: Pick<AuditStore, "list">;
  /** Epoch ms lower bound, if any. */
  sinceMs?: number | undefined;
  follow: boolean;
  json: boolean;
  clock: Pick<Clock, "sleep">;
  writeOut: (line: string) => void;
  /** Ends `--follow`. */
  signal?: AbortSignal;
  /** Default {@link FOLLOW_POLL_MS}. */
  pollMs?: number;
};

/**
 * Print the entries since `sinceMs`, oldest first; with `follow`, keep printing new ones until `signal` aborts.
 * @returns how many entries were printed
 */
export async function runEventsCommand(o: EventsCommandOptions): Promise<number> {
  let after = 0;
  let printed = 0;
  for (;;) {
    for (;;) {
      const page = o.store.list({ sinceMs: o.sinceMs, afterSeq: after, limit: PAGE });
      for (const e of page) o.writeOut(o.json ? JSON.stringify(auditEntryJson(e)) : formatAuditLine(e));
      printed += page.length;
      after = page.at(-1)?.seq ?? after;
      if (page.length < PAGE) break;
    }
    if (!o.follow || o.signal?.aborted) return printed;
    await o.clock.sleep(o.pollMs ?? FOLLOW_POLL_MS, o.signal);
    if (o.signal?.aborted) return printed;
  }
}

/** Register `events`. */
export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command("events")
    .description("print the audit trail: every action the daemon took on this host (read from its database; works while it is down)")
    .option("--since <when>", "only entries since an RFC 3339 time or a duration back from now (90s, 15m, 1h, 7d)", (v: string) => {
      const t = parseSince(v, ctx.host.clock.now());
      if (t === undefined) throw new InvalidArgumentError("must be an RFC 3339 time or a duration such as 90s, 15m, 1h, 7d");
      return t;
    })
    .option("--follow", "keep printing new entries as they are recorded")
    .option("--json", "one JSON object per line")
    .option(...CONFIG_OPTION)
    .action(async (o: { since?: number; follow?: boolean; json?: boolean }) => {
      const { settings } = ctx.load();
      const dir = settings.AGENT_SUPERVISOR_DATA_DIR;
      const path = dataDirLayout(dir).db;
      if (!existsSync(path)) throw new UnavailableError("ERR_NO_DATABASE", `no database at ${path}: the daemon has not run with this data directory`);
      const db = openDb(path, { nativeBinding: loadNativeSqliteBinding(dir) });
      try {
        await runEventsCommand({ store: new AuditStore(db), sinceMs: o.since, follow: o.follow ?? false, json: o.json ?? false, clock: ctx.host.clock, writeOut: ctx.out });
      } finally {
        db.close();
        giveBackDbFiles(ctx, dir);
      }
    });
}
