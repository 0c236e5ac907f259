/**
 * A small control plane speaking the contract (src/sync/contract.ts) on a real socket, for the
 * client and worker tests: a queue of turns to hand out, leases, stored results, status reports,
 * secrets with ETags, and per-operation overrides to answer anything (bad bodies, errors, delays).
 */
import { Hono, type Context } from "hono";
import { startHttpServer, type HttpServerHandle } from "../../src/health/server.ts";
import { OPERATIONS, type ClaimedTurn, type Secrets, type StatusReport } from "../../src/sync/contract.ts";

export const ACCOUNT = "acct-1";
export const RUNTIME = "rt-1";
export const TOKEN = "svc-token-5f1d9c0a7b";

type Op = keyof typeof OPERATIONS;
/** Return a Response to answer instead of the normal handler, or undefined to carry on. */
export type Override = (c: Context, body: unknown) => Response | undefined | Promise<Response | undefined>;

type Lease = { leaseId: string; expiresAt: number; lost: boolean };
type Result = { op: "complete" | "fail"; body: Record<string, unknown>; received: number };

/** State and knobs of the fake. */
export class FakeControlPlane {
  readonly app = new Hono();
  /** Turns waiting to be claimed (handed out in order). */
  readonly queue: { turnId: string; conversationId: string; message: string; leaseMs?: number }[] = [];
  readonly leases = new Map<string, Lease>();
  /** First result stored per turn. */
  readonly results = new Map<string, Result>();
  /** Every request, in order: operation name and arrival time. */
  readonly requests: { op: Op; at: number; body: unknown; headers: Headers }[] = [];
  readonly statuses: StatusReport[] = [];
  readonly overrides = new Map<Op, Override>();
  secrets: Secrets | undefined;
  leaseMs = 60_000;
  #leaseSeq = 0;
  #waiters = new Set<() => void>();

  constructor() {
    const route = (op: Op, handler: (c: Context, body: any) => Response | Promise<Response>) => {
      const spec = OPERATIONS[op];
      const path = spec.path.replace("{runtimeId}", ":runtimeId").replace("{turnId}", ":turnId");
      const register = spec.method === "GET" ? this.app.get.bind(this.app) : this.app.post.bind(this.app);
      register(path, async (c) => {
        const body = spec.method === "GET" ? undefined : await c.req.json().catch(() => undefined);
        this.requests.push({ op, at: Date.now(), body, headers: c.req.raw.headers });
        const override = this.overrides.get(op);
        const replaced = override ? await override(c, body) : undefined;
        if (replaced) return replaced;
        if (c.req.header("authorization") !== `Bearer ${TOKEN}`) return c.json({ error: { code: "UNAUTHORIZED", message: "bad token" } }, 401);
        if (spec.request !== null && !spec.request.safeParse(body).success) return c.json({ error: { code: "BAD_REQUEST", message: "invalid body" } }, 400);
        return handler(c, body);
      });
    };
    const id = { accountId: ACCOUNT, runtimeId: RUNTIME };

    route("claim", async (c, body: { max: number; waitMs: number }) => {
      if (this.queue.length === 0 && body.waitMs > 0) await this.#waitForWork(body.waitMs, c.req.raw.signal);
      const turns: ClaimedTurn[] = this.queue.splice(0, body.max).map((t) => {
        const leaseId = `lease-${++this.#leaseSeq}`;
        const expiresAt = Date.now() + (t.leaseMs ?? this.leaseMs);
        this.leases.set(t.turnId, { leaseId, expiresAt, lost: false });
        return { turnId: t.turnId, conversationId: t.conversationId, message: t.message, leaseId, leaseExpiresAt: new Date(expiresAt).toISOString(), attempt: 1 };
      });
      return c.json({ ...id, turns });
    });
    route("heartbeat", (c, body: { leases: { turnId: string; leaseId: string }[] }) => {
      const leases = body.leases.map((l) => {
        const held = this.leases.get(l.turnId);
        if (!held || held.leaseId !== l.leaseId || held.lost || held.expiresAt <= Date.now()) {
          return { ...l, status: "lost" as const, reason: "expired or reassigned" };
        }
        held.expiresAt = Date.now() + this.leaseMs;
        return { ...l, status: "extended" as const, leaseExpiresAt: new Date(held.expiresAt).toISOString() };
      });
      return c.json({ ...id, leases });
    });
    const result = (op: "complete" | "fail") => (c: Context, body: Record<string, unknown>) => {
      const turnId = c.req.param("turnId")!;
      const held = this.leases.get(turnId);
      if (!held) return c.json({ error: { code: "NOT_FOUND", message: "unknown turn" } }, 404);
      if (held.leaseId !== body.leaseId || held.lost) return c.json({ error: { code: "LEASE_LOST", message: "not your lease" } }, 409);
      const duplicate = this.results.has(turnId);
      if (!duplicate) this.results.set(turnId, { op, body, received: Date.now() });
      return c.json({ ...id, turnId, duplicate });
    };
    route("complete", result("complete"));
    route("fail", result("fail"));
    route("reportStatus", (c, body: StatusReport) => {
      this.statuses.push(body);
      return c.json({ ...id, receivedAt: new Date().toISOString() });
    });
    route("secrets", (c) => {
      if (!this.secrets) return c.json({ error: { code: "NO_SECRETS", message: "none configured" } }, 404);
      const etag = `"${this.secrets.version}"`;
      if (c.req.header("if-none-match") === etag) return c.body(null, 304);
      return c.json(this.secrets, 200, { etag });
    });
    route("skills", (c) => c.json({ ...id, version: "1", skills: [] }));
  }

  /** Queue turns to hand out and wake parked claims. */
  enqueue(...turns: { turnId: string; conversationId?: string; message?: string; leaseMs?: number }[]): void {
    for (const t of turns) this.queue.push({ conversationId: "conv-1", message: `hello ${t.turnId}`, ...t });
    for (const w of [...this.#waiters]) w();
  }

  /** Requests of one operation. */
  count(op: Op): number {
    return this.requests.filter((r) => r.op === op).length;
  }

  #waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Answer parked claims now (before closing the server). */
  wakeAll(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** A fake control plane listening on 127.0.0.1 (port 0 unless given). */
export type RunningFake = { cp: FakeControlPlane; url: string; port: number; close(): Promise<void> };

/** Start `cp` (a new one by default) on a real socket. */
export async function startFake(cp = new FakeControlPlane(), port = 0): Promise<RunningFake> {
  const server: HttpServerHandle = await startHttpServer({ app: cp.app, host: "127.0.0.1", port, closeGraceMs: 50 });
  return {
    cp,
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    close: async () => {
      cp.wakeAll();
      await server.close();
    },
  };
}

/** A raw JSON response (for bodies the contract forbids). */
export function raw(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "application/json", ...headers } });
}
