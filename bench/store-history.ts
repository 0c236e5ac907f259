/**
 * Submitting stays cheap as history grows (issue 10). Fills a real SQLite file (the daemon's
 * openDb: WAL, synchronous=FULL) with `history` finished turns, then times, interleaved in one
 * run: TurnService.submit (queue-limit check through TurnStore.counts, then TurnStore.insert) and
 * the raw path beside it, one prepared INSERT of the same row in its own transaction. Also times
 * the counts query this replaced (a GROUP BY over turns) and batches of the history pruner
 * (HistoryStore.pruneBatch, HISTORY_PRUNE_BATCH turns each) on the backlog.
 *
 * Usage: sh scripts/setup.sh && .cache/node/bin/node bench/store-history.ts [history=1000000] [submits=2000] [dir=os.tmpdir()]
 * (`npm run bench:history -- 1000000 2000`). `dir` on a tmpfs (/dev/shm) takes the disk's fsync
 * out and leaves the code's own cost. Prints a JSON summary; removes its files.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openDb } from "../src/store/db.ts";
import { HistoryStore, planPruneBatch } from "../src/store/history.ts";
import { TurnStore } from "../src/store/turns.ts";
import { TurnService } from "../src/turns/turn-service.ts";
import { HISTORY_PRUNE_BATCH } from "../src/watchdogs/history-prune.ts";

const history = Number(process.argv[2] ?? 1_000_000);
const submits = Number(process.argv[3] ?? 2_000);
const parent = process.argv[4] ?? tmpdir();
const DAY = 86_400_000;

/** Percentiles of a sample in ms, rounded to µs. */
function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(3));
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: Number(s.at(-1)!.toFixed(3)) };
}

const dir = mkdtempSync(join(parent, "as-bench-history-"));
const path = join(dir, "agent-supervisor.db");
const db = openDb(path);
try {
  // History: finished turns spread over the last 30 days, a tenth failed, a third central and reported.
  // Filling is set-up, not measured: no fsync per commit while it runs, FULL again after.
  const fillStart = performance.now();
  db.pragma("synchronous = OFF");
  const now = Date.now();
  const ins = db.prepare(
    `INSERT INTO turns (id, source, conversation_id, session_key, message, state, attempts, idempotency_key, reply, error_code,
                        created_at, updated_at, first_delivered_at, finished_at, lease_id, reported_at)
     VALUES (@id, @source, @conv, 'agent:main:' || @conv, @message, @state, 1, @id, @reply, @code, @at, @at, @at, @at, @lease, @reported)`,
  );
  const message = "m".repeat(200);
  const reply = "r".repeat(400);
  for (let done = 0; done < history; ) {
    const n = Math.min(50_000, history - done);
    db.transaction(() => {
      for (let i = done; i < done + n; i++) {
        const at = now - 30 * DAY + Math.floor((i / history) * 30 * DAY);
        const central = i % 3 === 0;
        const failed = i % 10 === 0;
        ins.run({
          id: randomUUID(), source: central ? "central" : "local", conv: `conv-${i % 500}`, message, at,
          state: failed ? "failed" : "done", reply: failed ? null : reply, code: failed ? "GATEWAY_ERROR" : null,
          lease: central ? `lease-${i}` : null, reported: central ? at + 100 : null,
        });
      }
    })();
    done += n;
  }
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.pragma("synchronous = FULL");
  const fillMs = performance.now() - fillStart;

  const turns = new TurnStore(db);
  const service = new TurnService({ turns, now: Date.now, queueLimit: 10_000_000, onSubmitted: () => {} });
  const raw = db.prepare(
    `INSERT INTO turns (id, source, client_key, conversation_id, session_key, message, state, created_at, updated_at)
     VALUES (?, 'local', NULL, ?, ?, ?, 'accepted', ?, ?)`,
  );
  // Wall time, and this process's CPU time (user + system), which a busy shared machine's
  // scheduling does not inflate.
  const submitMs: number[] = [];
  const rawMs: number[] = [];
  const submitCpuMs: number[] = [];
  const rawCpuMs: number[] = [];
  const timed = (wall: number[], cpuOut: number[], op: () => void) => {
    const t = performance.now();
    const cpu = process.cpuUsage();
    op();
    const used = process.cpuUsage(cpu);
    wall.push(performance.now() - t);
    cpuOut.push((used.user + used.system) / 1000);
  };
  for (let i = 0; i < submits; i++) {
    const conv = `bench-${i % 50}`;
    timed(submitMs, submitCpuMs, () => service.submit({ conversationId: conv, message: `submit ${i}` }));
    timed(rawMs, rawCpuMs, () => raw.run(randomUUID(), conv, `agent:main:${conv}`, `raw ${i}`, Date.now(), Date.now()));
  }

  // The counts() query before migration 5, for scale: a scan of every turn.
  const oldCounts = db.prepare(`SELECT state, COUNT(*) AS n FROM turns GROUP BY state`);
  const oldCountsMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    oldCounts.all();
    oldCountsMs.push(performance.now() - t);
  }

  // The pruner on this backlog: 100 batches with the defaults (keep 50,000, 7 days, floor 1 h).
  const store = new HistoryStore(db);
  const policy = { maxAgeMs: 7 * DAY, maxCount: 50_000, minAgeMs: 3_600_000 };
  const batchMs: number[] = [];
  const batchCpuMs: number[] = [];
  let pruned = 0;
  for (let i = 0; i < 100; i++) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    pruned += store.pruneBatch(planPruneBatch(Date.now(), store.finishedCount(), policy, HISTORY_PRUNE_BATCH)).turns;
    const used = process.cpuUsage(cpu);
    batchMs.push(performance.now() - t);
    batchCpuMs.push((used.user + used.system) / 1000);
  }

  const submit = stats(submitMs);
  const rawInsert = stats(rawMs);
  console.log(
    JSON.stringify(
      {
        machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
        history,
        dir: parent,
        dbMiB: Math.round(statSync(path).size / 2 ** 20),
        fillSeconds: Number((fillMs / 1000).toFixed(1)),
        submitMs: submit,
        rawInsertMs: rawInsert,
        ratio: { p50: Number((submit.p50 / rawInsert.p50).toFixed(2)), p99: Number((submit.p99 / rawInsert.p99).toFixed(2)) },
        cpuMs: { submit: stats(submitCpuMs), rawInsert: stats(rawCpuMs) },
        countsMs: { maintained: stats(Array.from({ length: 200 }, () => { const t = performance.now(); turns.counts(); return performance.now() - t; })), groupByScan: stats(oldCountsMs) },
        pruneBatchMs: { wall: stats(batchMs), cpu: stats(batchCpuMs), turnsPerBatch: HISTORY_PRUNE_BATCH, pruned },
      },
      null,
      2,
    ),
  );
} finally {
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
