/**
 * A reference control plane on 127.0.0.1 port 0 with a hand-driven clock, and a client that
 * calls it over real HTTP (the global fetch) and checks every answer against the contract:
 * a 200 against the operation's response schema, any other status with a body against
 * errorResponseSchema.
 */
import { expect } from "vitest";
import { errorResponseSchema, OPERATIONS, type StatusReport } from "../../src/sync/contract.ts";
import type { OperationName } from "../../src/dev/control-plane/faults.ts";
import { startReferenceControlPlane, type RunningControlPlane, type StartReferenceControlPlaneOptions } from "../../src/dev/control-plane/server.ts";

export const SERVICE_TOKEN = "service-token-for-tests";
export const ADMIN_TOKEN = "admin-token-for-tests";
export const RT = "rt-1";
export const RT2 = "rt-2";
export const ACC = "acc-1";
export const OTHER_RT = "rt-9";
export const OTHER_ACC = "acc-2";
/** 2026-01-01T00:00:00Z */
export const T0 = Date.UTC(2026, 0, 1);

/** An HTTP answer: status, parsed JSON body (undefined when empty) and headers. */
export type Answer = { status: number; json: any; text: string; headers: Headers };

/** A running plane, its clock and clients. */
export type Plane = {
  cp: RunningControlPlane;
  clock: { now: number };
  /** Call a contract operation. `check: false` skips the contract check (for fault tests). */
  v1(name: OperationName, params: { runtimeId?: string; turnId?: string }, body?: unknown, init?: { token?: string | null; headers?: Record<string, string>; check?: boolean; signal?: AbortSignal }): Promise<Answer>;
  /** Call the admin API with the admin token. */
  admin(method: string, path: string, body?: unknown, token?: string): Promise<Answer>;
};

const open: Plane[] = [];

/** Start a plane (runtimes rt-1 and rt-2 of acc-1, rt-9 of acc-2); {@link closePlanes} in afterEach. */
export async function startPlane(o: Partial<StartReferenceControlPlaneOptions> = {}): Promise<Plane> {
  const clock = { now: T0 };
  const cp = await startReferenceControlPlane({
    serviceToken: SERVICE_TOKEN,
    adminToken: ADMIN_TOKEN,
    runtimes: [
      { runtimeId: RT, accountId: ACC },
      { runtimeId: RT2, accountId: ACC },
      { runtimeId: OTHER_RT, accountId: OTHER_ACC },
    ],
    now: () => clock.now,
    ...o,
  });
  const plane: Plane = {
    cp,
    clock,
    async v1(name, params, body, init = {}) {
      const op = OPERATIONS[name];
      const path = op.path.replace("{runtimeId}", encodeURIComponent(params.runtimeId ?? RT)).replace("{turnId}", encodeURIComponent(params.turnId ?? ""));
      const headers: Record<string, string> = { ...init.headers };
      const token = init.token === undefined ? SERVICE_TOKEN : init.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await fetch(`${cp.url}${path}`, {
        method: op.method,
        headers,
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
        ...(init.signal ? { signal: init.signal } : {}),
      });
      const answer = await read(res);
      if (init.check !== false) {
        if (answer.status === 200) expect(() => op.response.parse(answer.json), `${name} 200 body matches the contract`).not.toThrow();
        else if (answer.text !== "") expect(() => errorResponseSchema.parse(answer.json), `${name} ${answer.status} body is an error body`).not.toThrow();
      }
      return answer;
    },
    async admin(method, path, body, token = ADMIN_TOKEN) {
      const res = await fetch(`${cp.url}/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return read(res);
    },
  };
  open.push(plane);
  return plane;
}

async function read(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Close every plane started by {@link startPlane}. */
export async function closePlanes(): Promise<void> {
  await Promise.all(open.splice(0).map((p) => p.cp.close()));
}

/** A valid status report of `runtimeId`/`accountId`. */
export function statusReport(over: Partial<StatusReport> = {}): StatusReport {
  return {
    accountId: ACC,
    runtimeId: RT,
    daemonVersion: "0.1.0",
    openclawVersion: "2026.9.6",
    gatewayState: "ready",
    status: "online",
    reason: null,
    host: { cpuLoadPercent: 12.5, memTotalBytes: 8e9, memAvailableBytes: 4e9, diskTotalBytes: 1e11, diskFreeBytes: 5e10 },
    queue: { accepted: 0, delivering: 1, outbox: 0 },
    sentAt: new Date(T0).toISOString(),
    ...over,
  };
}

/** A claim body for `runtimeId` of `accountId`. */
export const claimBody = (max = 10, waitMs = 0, runtimeId = RT, accountId = ACC) => ({ accountId, runtimeId, max, waitMs });

/** A complete body under `leaseId`. */
export const completeBody = (leaseId: string, reply = "the reply", runtimeId = RT, accountId = ACC) => ({
  accountId,
  runtimeId,
  leaseId,
  reply,
  attempts: 1,
  finishedAt: new Date(T0).toISOString(),
});

/** A fail body under `leaseId`. */
export const failBody = (leaseId: string, code = "TURN_TIMEOUT", runtimeId = RT) => ({
  accountId: ACC,
  runtimeId,
  leaseId,
  error: { code, message: "the turn took too long" },
  attempts: 2,
  finishedAt: new Date(T0).toISOString(),
});
