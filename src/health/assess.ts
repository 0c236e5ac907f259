/**
 * The health decision, pure: snapshot + disk reading + time in, draft-inadarei-api-health-check
 * `status`/`output`/`checks` out. No clock, no I/O; the `/health` route adds the service fields.
 */
import type { DiskUsage, HealthSnapshot } from "./ports.ts";
import type { HealthCheck, HealthStatus } from "./wire.ts";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Where `warn` and `fail` begin. Ratios are fractions (0.8 = 80 %), sizes are bytes. */
export type HealthThresholds = {
  /** Queue depth (accepted + delivering) / limit at or above which the queue warns. */
  queueWarnRatio: number;
  /** ... at or above which it fails (1 = the queue refuses new turns). */
  queueFailRatio: number;
  /** Disk warns below this free fraction or below `diskWarnFreeBytes`. */
  diskWarnFreeRatio: number;
  diskWarnFreeBytes: number;
  /** Disk fails below this free fraction or below `diskFailFreeBytes`. */
  diskFailFreeRatio: number;
  diskFailFreeBytes: number;
};

/** Defaults: queue 80 % warn / 100 % fail; disk < 10 % or < 1 GiB warn, < 2 % or < 256 MiB fail. */
export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = {
  queueWarnRatio: 0.8,
  queueFailRatio: 1,
  diskWarnFreeRatio: 0.1,
  diskWarnFreeBytes: GiB,
  diskFailFreeRatio: 0.02,
  diskFailFreeBytes: 256 * MiB,
};

/** The disk reading, or why it could not be read (then `disk:free` warns). */
export type DiskReading = DiskUsage | { error: string };

/**
 * Keys of the checks always present, `{componentName}:{metricName}` as the draft suggests.
 * `control-plane:sync` joins them with a control plane, `store:writes` where the daemon watches
 * its SQLite writes, `turns:budget` with a daily token budget, and each watchdog adds its own key
 * (e.g. `gateway:memory`, `workspace:memory-md`).
 */
export type CheckKey = "gateway:process" | "gateway:connection" | "queue:depth" | "disk:free";

/** `status`, `output` (omitted on pass, per the draft) and `checks` of the health document. */
export type HealthAssessment = {
  status: HealthStatus;
  output?: string;
  checks: Record<CheckKey, [HealthCheck]> & { "control-plane:sync"?: [HealthCheck]; "store:writes"?: [HealthCheck] } & Record<string, [HealthCheck]>;
};

const RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };
const iso = (ms: number) => new Date(ms).toISOString();

type CheckFields = { componentType: string; observedValue: unknown; observedUnit: string; time: string; [detail: string]: unknown };

function check(status: HealthStatus, output: string | null, fields: CheckFields): [HealthCheck] {
  const { componentType, observedValue, observedUnit, time, ...details } = fields;
  const head = { componentType, observedValue, observedUnit, status, time };
  return [output === null ? { ...head, ...details } : { ...head, output, ...details }];
}

function gatewayProcess(s: HealthSnapshot, time: string): [HealthCheck] {
  const g = s.gateway;
  const why = g.reason ? `: ${g.reason}` : "";
  let status: HealthStatus = "pass";
  let output: string | null = null;
  if (g.state === "failed") [status, output] = ["fail", `gateway gave up restarting${why}`];
  else if (g.state === "starting" || g.state === "backoff") [status, output] = ["warn", `gateway is ${g.state} (recovering)${why}`];
  else if (g.state === "stopping") [status, output] = ["warn", `gateway is stopping${why}`];
  // Stopped on purpose during shutdown is expected; stopped otherwise means nothing will restart it.
  else if (g.state === "stopped") [status, output] = s.draining ? ["warn", "gateway stopped (draining)"] : ["fail", `gateway is stopped${why}`];
  const lastExit = g.lastExit && { code: g.lastExit.code, signal: g.lastExit.signal, at: iso(g.lastExit.at) };
  return check(status, output, {
    componentType: "system",
    observedValue: g.state,
    observedUnit: "state",
    time,
    pid: g.pid,
    since: iso(g.since),
    restarts: g.restarts,
    generation: g.generation,
    lastExit,
    openclawVersion: g.openclawVersion,
  });
}

/**
 * A disconnected connection is never `pass`, whatever the gateway's state: `status` showed
 * "[pass] connection: disconnected" while the gateway crash-looped (issue 8). It stays `warn`,
 * not `fail`: when the cause is the gateway process, gateway:process carries the verdict, so the
 * overall status (the worst check) is the same as before.
 */
function gatewayConnection(s: HealthSnapshot, time: string): [HealthCheck] {
  const c = s.connection;
  const g = s.gateway;
  let status: HealthStatus = "pass";
  let output: string | null = null;
  if (!c.connected && g.state === "ready") {
    [status, output] = ["warn", `gateway connection is down${c.lastError ? `: ${c.lastError}` : ""}`];
  } else if (!c.connected) {
    const why = g.reason ? ` (${g.reason})` : "";
    [status, output] = ["warn", `no connection to the gateway: it is ${g.state}${why}${c.lastError ? `; last error: ${c.lastError}` : ""}`];
  }
  return check(status, output, {
    componentType: "component",
    observedValue: c.connected,
    observedUnit: "connected",
    time,
    since: iso(c.since),
    lastError: c.lastError,
  });
}

function queueDepth(s: HealthSnapshot, t: HealthThresholds, time: string): [HealthCheck] {
  const q = s.queue;
  const depth = q.accepted + q.delivering;
  const ratio = q.limit > 0 ? depth / q.limit : 1;
  let status: HealthStatus = "pass";
  if (ratio >= t.queueFailRatio) status = "fail";
  else if (ratio >= t.queueWarnRatio) status = "warn";
  const output = status === "pass" ? null : `queue holds ${depth} of ${q.limit} turns (${Math.round(ratio * 100)} %)`;
  return check(status, output, {
    componentType: "component",
    observedValue: depth,
    observedUnit: "turns",
    time,
    limit: q.limit,
    accepted: q.accepted,
    delivering: q.delivering,
  });
}

function diskFree(d: DiskReading, t: HealthThresholds, time: string): [HealthCheck] {
  if ("error" in d) {
    return check("warn", `cannot read disk usage: ${d.error}`, { componentType: "system", observedValue: null, observedUnit: "bytes", time });
  }
  // totalBytes 0 (odd pseudo filesystems): judge by bytes only.
  const ratio = d.totalBytes > 0 ? d.freeBytes / d.totalBytes : 1;
  let status: HealthStatus = "pass";
  if (ratio < t.diskFailFreeRatio || d.freeBytes < t.diskFailFreeBytes) status = "fail";
  else if (ratio < t.diskWarnFreeRatio || d.freeBytes < t.diskWarnFreeBytes) status = "warn";
  const output =
    status === "pass" ? null : `${(d.freeBytes / GiB).toFixed(2)} GiB free on ${d.path} (${(ratio * 100).toFixed(1)} %)`;
  return check(status, output, {
    componentType: "system",
    observedValue: d.freeBytes,
    observedUnit: "bytes",
    time,
    totalBytes: d.totalBytes,
    path: d.path,
  });
}

function controlPlaneSync(s: HealthSnapshot, time: string): [HealthCheck] | undefined {
  const c = s.controlPlane;
  if (!c) return undefined;
  let status: HealthStatus = "pass";
  const problems: string[] = [];
  if (c.claiming === "stopped-auth") problems.push("the control plane refuses the service token; not claiming work");
  else if (c.claiming === "backoff") problems.push(`control plane unavailable, retrying${c.lastError ? `: ${c.lastError}` : ""}`);
  if (c.problem) problems.push(c.problem);
  if (problems.length > 0) status = "warn";
  return check(status, problems.length > 0 ? problems.join("; ") : null, {
    componentType: "component",
    observedValue: c.claiming,
    observedUnit: "state",
    time,
    outboxDepth: c.outboxDepth,
    lastError: c.lastError,
  });
}

/**
 * `fail` while any SQLite write site fails (the daemon retries with backoff, but results are not
 * being kept meanwhile): the output names each site, its cause, since when and how often.
 */
function storeWrites(s: HealthSnapshot, time: string): [HealthCheck] | undefined {
  const failing = s.storage?.failing;
  if (failing === undefined) return undefined;
  const output =
    failing.length === 0
      ? null
      : `SQLite writes failing, retried with backoff: ${failing
          .map((f) => `${f.site} since ${iso(f.since)} (${f.failures} failure${f.failures === 1 ? "" : "s"}): ${f.code}: ${f.message}`)
          .join("; ")}`;
  return check(failing.length === 0 ? "pass" : "fail", output, {
    componentType: "datastore",
    observedValue: failing.length,
    observedUnit: "sites",
    time,
    failing: failing.map((f) => ({ ...f, since: iso(f.since), lastAt: iso(f.lastAt) })),
  });
}

/**
 * `turns:budget`, only with a daily token budget: `warn` from the warning threshold, `fail` at the
 * limit (turns/budget.ts). The output says what happens to new local turns (TOKEN_BUDGET_ACTION).
 */
function tokenBudget(s: HealthSnapshot, time: string): [HealthCheck] | undefined {
  const b = s.tokens?.budget;
  if (!b) return undefined;
  const status: HealthStatus = b.state === "exceeded" ? "fail" : b.state === "warn" ? "warn" : "pass";
  const head = `${b.used} of ${b.limit} tokens of today's budget used (${Math.floor((b.used / b.limit) * 100)} %; resets ${iso(b.resetsAt)})`;
  const then = b.action === "refuse" ? "new local turns are refused (429) until it resets" : "turns still run (TOKEN_BUDGET_ACTION=warn)";
  const output = status === "pass" ? null : status === "warn" ? `${head}; at the limit ${then}` : `${head}: limit reached; ${then}`;
  return check(status, output, {
    componentType: "component",
    observedValue: b.used,
    observedUnit: "tokens",
    time,
    limit: b.limit,
    warnAt: b.warnAt,
    action: b.action,
    resetsAt: iso(b.resetsAt),
  });
}

/**
 * `openclaw:version`, when the daemon manages version changes (issue 14): `warn` while a change
 * runs, when the desired version failed (its `upgrade failed: ...` reason) or is refused.
 * `observedValue` is the current version; `desired`, `lastFailed` and `step` beside it.
 */
function openclawVersion(s: HealthSnapshot, time: string): [HealthCheck] | undefined {
  const v = s.openclaw;
  if (!v) return undefined;
  const failedDesired = v.lastFailed !== null && v.lastFailed.version === v.desired;
  let output: string | null = null;
  if (v.step !== null) output = `changing OpenClaw from ${v.current ?? "?"} to ${v.desired ?? "?"}: ${v.step}`;
  else if (v.problem !== null) output = v.problem;
  else if (failedDesired && v.lastFailed) output = `OpenClaw ${v.lastFailed.version} not applied, ${v.current ?? "?"} kept: ${v.lastFailed.reason}`;
  return check(output === null ? "pass" : "warn", output, {
    componentType: "component",
    observedValue: v.current,
    observedUnit: "version",
    time,
    desired: v.desired,
    lastFailed: v.lastFailed,
    step: v.step,
  });
}

/**
 * Judge the daemon's health (draft-inadarei-api-health-check). Overall status is the worst check;
 * `output` joins the outputs of the checks that are not `pass`.
 * @param snapshot the daemon state (epoch ms times)
 * @param disk the data directory's filesystem, or the error reading it
 * @param nowMs epoch ms stamped into each check's `time`
 * @param thresholds see {@link DEFAULT_HEALTH_THRESHOLDS}
 */
export function assessHealth(
  snapshot: HealthSnapshot,
  disk: DiskReading,
  nowMs: number,
  thresholds: HealthThresholds = DEFAULT_HEALTH_THRESHOLDS,
): HealthAssessment {
  const time = iso(nowMs);
  const checks: HealthAssessment["checks"] = {
    "gateway:process": gatewayProcess(snapshot, time),
    "gateway:connection": gatewayConnection(snapshot, time),
    "queue:depth": queueDepth(snapshot, thresholds, time),
    "disk:free": diskFree(disk, thresholds, time),
  };
  // Each watchdog's check under its own key (watchdogs/watchdog.ts): none is special-cased here.
  for (const w of snapshot.watchdogs ?? []) {
    checks[w.key] = check(w.status, w.output, { componentType: w.componentType, observedValue: w.observedValue, observedUnit: w.observedUnit, time, ...w.details });
  }
  const sync = controlPlaneSync(snapshot, time);
  if (sync) checks["control-plane:sync"] = sync;
  const writes = storeWrites(snapshot, time);
  if (writes) checks["store:writes"] = writes;
  const budget = tokenBudget(snapshot, time);
  if (budget) checks["turns:budget"] = budget;
  const version = openclawVersion(snapshot, time);
  if (version) checks["openclaw:version"] = version;
  const all = Object.values(checks).map((v) => v![0]);
  const status = all.reduce<HealthStatus>((w, c) => (RANK[c.status] > RANK[w] ? c.status : w), "pass");
  const outputs = all.flatMap((c) => (c.output === undefined ? [] : [c.output]));
  return outputs.length === 0 ? { status, checks } : { status, output: outputs.join("; "), checks };
}
