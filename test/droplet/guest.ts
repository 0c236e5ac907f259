/**
 * What the droplet test asks of the guest, each through commands an operator would type on the
 * droplet: `systemctl show`, `agent-supervisor turn`, curl against the local API, the stand-in
 * control plane's admin API and the mock model's request log.
 */
import { until } from "../e2e/harness.ts";
import type { Container } from "./container.ts";
import { GUEST } from "./fixtures.ts";

export { until };

/** Properties of agent-supervisor.service, from `systemctl show`. */
export type UnitState = {
  ActiveState: string;
  SubState: string;
  StatusText: string;
  NRestarts: number;
  MainPID: number;
  Result: string;
};

/** `systemctl show agent-supervisor` for the properties of {@link UnitState}. */
export async function unitState(c: Container): Promise<UnitState> {
  const out = await c.sh("systemctl show agent-supervisor.service -p ActiveState -p SubState -p StatusText -p NRestarts -p MainPID -p Result");
  const kv = Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  return {
    ActiveState: kv.ActiveState ?? "",
    SubState: kv.SubState ?? "",
    StatusText: kv.StatusText ?? "",
    NRestarts: Number(kv.NRestarts ?? NaN),
    MainPID: Number(kv.MainPID ?? NaN),
    Result: kv.Result ?? "",
  };
}

/** Wait until the unit state satisfies `pred`; returns that state. */
export function waitUnit(c: Container, what: string, pred: (s: UnitState) => boolean, timeoutMs: number): Promise<UnitState> {
  return until(what, async () => {
    const s = await unitState(c);
    return pred(s) ? s : undefined;
  }, timeoutMs).catch(async (e: Error) => {
    const journal = await c.exec(["journalctl", "-u", "agent-supervisor", "--no-pager", "-n", "60", "-o", "cat"]);
    throw new Error(`${e.message}\nlast state: ${JSON.stringify(await unitState(c).catch(() => null))}\n--- journal ---\n${journal.stdout.slice(-6000)}`);
  });
}

/** `agent-supervisor turn TEXT --conversation CONV` as root on the droplet. */
export function cliTurn(c: Container, text: string, conversation: string, timeoutMs = 120_000) {
  return c.exec(["agent-supervisor", "turn", text, "--conversation", conversation, "--timeout", String(timeoutMs)], { timeoutMs: timeoutMs + 15_000 });
}

/** Send turns until one succeeds (the gateway may still be starting); returns the reply. */
export async function turnWorks(c: Container, text: string, conversation: string, timeoutMs: number): Promise<string> {
  return until(`a turn ("${text}") to get its reply`, async () => {
    const r = await cliTurn(c, text, conversation, 60_000);
    if (r.code !== 0) throw new Error(`turn exit ${r.code}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }, timeoutMs, 1000);
}

/** Completion requests the mock model received whose prompt contains `marker`. */
export async function modelCalls(c: Container, marker: string): Promise<number> {
  const body = JSON.parse(await c.sh(`curl -fsS ${GUEST.modelUrl}/mock/requests`)) as { requests: { prompt: string }[] };
  return body.requests.filter((r) => r.prompt.includes(marker)).length;
}

/** `curl -fsS` a JSON request in the guest; `auth` is the Authorization value (shell-expanded). Returns the body text. */
function curlJson(c: Container, method: string, url: string, auth: string, body?: unknown): Promise<string> {
  const data = body === undefined ? "" : `-H 'content-type: application/json' --data-binary '${JSON.stringify(body).replaceAll("'", "'\\''")}'`;
  return c.sh(`curl -fsS -X ${method} -H "authorization: ${auth}" ${data} ${url}`);
}

/** Call the local API with the daemon's token (read as root from the data directory). */
export async function localApi(c: Container, method: "GET" | "POST", path: string, body?: unknown): Promise<any> {
  return JSON.parse(await curlJson(c, method, `http://127.0.0.1:18790${path}`, `Bearer $(cat ${GUEST.dataDir}/api.token)`, body));
}

/** Call the stand-in control plane's admin API. */
export async function controlPlaneAdmin(c: Container, adminToken: string, method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<any> {
  const out = await curlJson(c, method, `${GUEST.controlPlaneUrl}${path}`, `Bearer ${adminToken}`, body);
  return out.trim() ? JSON.parse(out) : null;
}

/** The gateway's pid in the guest, from the daemon's /health. */
export async function gatewayPid(c: Container): Promise<number> {
  const doc = JSON.parse(await c.sh("curl -sS http://127.0.0.1:18790/health")) as { checks: Record<string, [{ pid?: number }]> };
  const pid = doc.checks["gateway:process"]?.[0]?.pid;
  if (typeof pid !== "number") throw new Error("no gateway pid in /health");
  return pid;
}

/** Seconds since `t0` (ms), one decimal. */
export const secondsSince = (t0: number): number => Math.round((Date.now() - t0) / 100) / 10;
