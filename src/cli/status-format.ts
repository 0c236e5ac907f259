/** Human summary of the health document for `agent-supervisor status` (`--json` prints the document as-is). */
import type { HealthCheck, HealthDocument } from "../health/wire.ts";

/** "3h 12m", "45s", "2d 4h": the two largest units of a duration in ms. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const units: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]];
  const parts: string[] = [];
  let rest = ms;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length > 0 && parts.length < 2)) parts.push(`${n}${name}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.length > 0 ? parts.join(" ") : "0s";
}

/** "12.3 GiB", "512.0 MiB": bytes in binary units. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const ago = (c: HealthCheck, iso: unknown) => {
  const at = typeof iso === "string" ? Date.parse(iso) : NaN;
  return formatDuration(Date.parse(c.time) - at);
};

function gatewayLine(c: HealthCheck): string {
  const parts = [`${String(c.observedValue)} for ${ago(c, c.since)}`];
  if (num(c.pid) !== null) parts.push(`pid ${num(c.pid)}`);
  if (num(c.restarts) !== null) parts.push(`${num(c.restarts)} restart${c.restarts === 1 ? "" : "s"}`);
  const exit = c.lastExit as { code?: unknown; signal?: unknown; at?: unknown } | null | undefined;
  if (exit) {
    const how = str(exit.signal) ?? (num(exit.code) !== null ? `code ${num(exit.code)}` : "unknown");
    parts.push(`last exit ${how} ${ago(c, exit.at)} ago`);
  }
  if (str(c.openclawVersion)) parts.push(`openclaw ${str(c.openclawVersion)}`);
  return parts.join(", ");
}

function connectionLine(c: HealthCheck): string {
  return `${c.observedValue === true ? "connected" : "disconnected"} for ${ago(c, c.since)}`;
}

function queueLine(c: HealthCheck): string {
  return `${String(c.observedValue)} of ${num(c.limit) ?? "?"} turns (${num(c.accepted) ?? "?"} accepted, ${num(c.delivering) ?? "?"} delivering)`;
}

function diskLine(c: HealthCheck): string {
  const free = num(c.observedValue);
  const total = num(c.totalBytes);
  if (free === null) return "unknown";
  const pct = total ? ` (${((free / total) * 100).toFixed(1)} %)` : "";
  return `${formatBytes(free)} free${total ? ` of ${formatBytes(total)}` : ""}${pct}${str(c.path) ? ` on ${str(c.path)}` : ""}`;
}

function syncLine(c: HealthCheck): string {
  const outbox = num(c.outboxDepth);
  return `claiming ${String(c.observedValue)}${outbox !== null ? `, ${outbox} result${outbox === 1 ? "" : "s"} to report` : ""}`;
}

function memoryLine(c: HealthCheck): string {
  const bytes = num(c.observedValue);
  const limit = num(c.limitBytes);
  return `${bytes === null ? "?" : formatBytes(bytes)} RSS${limit !== null ? ` (limit ${formatBytes(limit)})` : ""}`;
}

function memoryFileLine(c: HealthCheck): string {
  const chars = num(c.observedValue);
  return chars === null ? "no MEMORY.md" : `MEMORY.md ${chars} chars`;
}

function versionLine(c: HealthCheck): string {
  const failed = c.lastFailed as { version?: unknown } | null | undefined;
  const parts = [`${str(c.observedValue) ?? "unmanaged"}`];
  parts.push(`desired ${str(c.desired) ?? "none"}`);
  if (failed && str(failed.version)) parts.push(`last failed ${str(failed.version)}`);
  if (str(c.step)) parts.push(`changing: ${str(c.step)}`);
  return parts.join(", ");
}

const ROWS: [key: string, label: string, line: (c: HealthCheck) => string][] = [
  ["gateway:process", "gateway", gatewayLine],
  ["gateway:connection", "connection", connectionLine],
  ["gateway:memory", "memory", memoryLine],
  ["queue:depth", "queue", queueLine],
  ["disk:free", "disk", diskLine],
  ["workspace:memory-md", "workspace", memoryFileLine],
  ["control-plane:sync", "sync", syncLine],
  ["openclaw:version", "openclaw", versionLine],
];

/**
 * Render a health document (draft-inadarei-api-health-check, as served by `GET /health`) as a few
 * lines: overall status, then gateway state/pid/uptime/restarts/last exit, connection, queue
 * depths and free disk, each with its check status and, when not `pass`, its output; then every
 * other check that is not `pass` (a watchdog's, e.g. `provider:auth`), by its key and output.
 * Tolerates missing detail fields (an older daemon) by printing "?". Pure; ends without newline.
 */
export function formatStatus(doc: HealthDocument): string {
  const lines = [`agent-supervisor ${doc.releaseId} (${doc.serviceId}): ${doc.status.toUpperCase()}`];
  for (const [key, label, line] of ROWS) {
    const c = doc.checks[key]?.[0];
    if (c === undefined) continue;
    lines.push(`  [${c.status}] ${`${label}:`.padEnd(12)}${line(c)}`);
    if (c.output !== undefined) lines.push(`         ${" ".repeat(12)}${c.output}`);
  }
  const shown = new Set(ROWS.map(([key]) => key));
  for (const [key, [c]] of Object.entries(doc.checks)) {
    if (shown.has(key) || c === undefined || c.status === "pass") continue;
    lines.push(`  [${c.status}] ${key}: ${c.output ?? ""}`);
  }
  return lines.join("\n");
}
