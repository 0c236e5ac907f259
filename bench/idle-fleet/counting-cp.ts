/**
 * A counting control plane for the idle-fleet simulation: answers the daemon's client in-process
 * (a `fetch` per runtime, no socket) on virtual time, counts every request by operation, and
 * answers as the contract says (src/sync/contract.ts; every answer is checked against its response
 * schema while `check` is on). It plays either a control plane on contract 1 as first published
 * (no versions on claim answers, waitMs up to 60 s) or one with issue 15's additions (versions on
 * claim answers, parked claims answered at once on a change, maxWaitMs 240 s).
 */
import { MAX_WAIT_MS, OPERATIONS, OPTIONAL_REQUEST_FIELDS } from "../../src/sync/contract.ts";
import type { VirtualClock } from "./virtual-clock.ts";

/** Operations counted, by the client's method and the path's last segment. */
export type Op = "status" | "claims" | "heartbeat" | "complete" | "fail" | "secrets" | "skills" | "audit-events";

/** How the control plane behaves. Times are virtual ms. */
export type CpMode = {
  /** Issue 15: versions on claim answers, parked claims answered on a change, maxWaitMs. */
  announce: boolean;
  /** One-way network latency added to every answer (ms). */
  latencyMs: number;
  /** Lease length handed out (ms). */
  leaseMs: number;
  /** Check every answer against the contract's response schema (slower; on for small fleets). */
  check: boolean;
};

type Turn = { turnId: string; conversationId: string; message: string };
type Parked = { max: number; answer: (turns: object[]) => void; cancelTimer: () => void };
type Runtime = {
  runtimeId: string;
  secretsVersion: number;
  skillsVersion: number;
  queue: Turn[];
  leases: Map<string, string>;
  parked: Parked | undefined;
  /** Versions of the latest claim answer, "<secrets>/<skills>". */
  heard: string | undefined;
};

const ACCOUNT = "bench-account";
const json = (body: object, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** The counting control plane. */
export class CountingControlPlane {
  readonly #clock: VirtualClock;
  readonly #mode: CpMode;
  readonly #runtimes = new Map<string, Runtime>();
  #counting = false;
  #nextId = 0;
  /** Requests counted since {@link startCounting}, by operation. */
  readonly counts = new Map<Op, number>();

  constructor(clock: VirtualClock, mode: CpMode) {
    this.#clock = clock;
    this.#mode = mode;
  }

  /** Its account id (every runtime belongs to it). */
  static readonly accountId = ACCOUNT;

  /** Count requests from now on, from zero. */
  startCounting(): void {
    this.counts.clear();
    this.#counting = true;
  }

  /** Stop counting; the counts stay. */
  stopCounting(): void {
    this.#counting = false;
  }

  /** Requests counted, all operations. */
  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** The fetch one runtime's client uses. */
  fetchFor(runtimeId: string): typeof globalThis.fetch {
    const rt: Runtime = { runtimeId, secretsVersion: 1, skillsVersion: 1, queue: [], leases: new Map(), parked: undefined, heard: undefined };
    this.#runtimes.set(runtimeId, rt);
    return (input, init) => this.#handle(rt, String(input), init ?? {});
  }

  /** Rotate a runtime's secrets. @returns the new version */
  rotateSecrets(runtimeId: string): string {
    const rt = this.#runtimes.get(runtimeId)!;
    rt.secretsVersion++;
    if (this.#mode.announce) this.#wake(rt);
    return String(rt.secretsVersion);
  }

  /** Queue a turn for a runtime; a parked claim takes it at once. */
  enqueue(runtimeId: string): void {
    const rt = this.#runtimes.get(runtimeId)!;
    const id = `t-${++this.#nextId}`;
    rt.queue.push({ turnId: id, conversationId: `c-${id}`, message: "hello" });
    this.#wake(rt);
  }

  #versions(rt: Runtime): string {
    return `${rt.secretsVersion}/${rt.skillsVersion}`;
  }

  #wake(rt: Runtime): void {
    const p = rt.parked;
    if (p === undefined) return;
    rt.parked = undefined;
    p.cancelTimer();
    p.answer(this.#take(rt, p.max));
  }

  #take(rt: Runtime, max: number): object[] {
    return rt.queue.splice(0, max).map((t) => {
      const leaseId = `l-${++this.#nextId}`;
      rt.leases.set(t.turnId, leaseId);
      return { ...t, leaseId, leaseExpiresAt: new Date(this.#clock.now() + this.#mode.leaseMs).toISOString(), leaseTtlMs: this.#mode.leaseMs, attempt: 1 };
    });
  }

  /** Answer after the network latency, checked against the operation's schema when `check` is on. */
  #later(op: keyof typeof OPERATIONS | null, res: () => Response, body?: object): Promise<Response> {
    if (this.#mode.check && op !== null && body !== undefined) OPERATIONS[op].response.parse(body);
    return new Promise((resolve) => this.#clock.at(this.#mode.latencyMs, () => resolve(res())));
  }

  #handle(rt: Runtime, url: string, init: RequestInit): Promise<Response> {
    const op = url.slice(url.lastIndexOf("/") + 1) as Op;
    if (this.#counting) this.counts.set(op, (this.counts.get(op) ?? 0) + 1);
    const ids = { accountId: ACCOUNT, runtimeId: rt.runtimeId };
    const body = init.body === undefined || init.body === null ? {} : (JSON.parse(String(init.body)) as Record<string, unknown>);
    const accepts = { accepts: [...OPTIONAL_REQUEST_FIELDS] };
    // Every answer arrives one network latency after the request (the request's own is in it).
    switch (op) {
      case "status": {
        const b = { ...ids, receivedAt: new Date(this.#clock.now()).toISOString(), ...accepts };
        return this.#later("reportStatus", () => json(b), b);
      }
      case "claims":
        return this.#claim(rt, body as { max: number; waitMs: number }, init.signal ?? undefined);
      case "heartbeat": {
        const leases = (body.leases as { turnId: string; leaseId: string }[]).map((l) =>
          rt.leases.get(l.turnId) === l.leaseId
            ? { ...l, status: "extended", leaseExpiresAt: new Date(this.#clock.now() + this.#mode.leaseMs).toISOString(), leaseTtlMs: this.#mode.leaseMs }
            : { ...l, status: "lost", reason: "unknown" },
        );
        const b = { ...ids, leases };
        return this.#later("heartbeat", () => json(b), b);
      }
      case "complete":
      case "fail": {
        const turnId = decodeURIComponent(url.split("/").at(-2)!);
        rt.leases.delete(turnId);
        const b = { ...ids, turnId, duplicate: false };
        return this.#later(op, () => json(b), b);
      }
      case "secrets": {
        const etag = `"${rt.secretsVersion}"`;
        if ((init.headers as Record<string, string> | undefined)?.["if-none-match"] === etag) return this.#later(null, () => new Response(null, { status: 304, headers: { etag } }));
        const b = { ...ids, version: String(rt.secretsVersion), providers: { compat: { baseUrl: "http://127.0.0.1:1/v1", model: "echo-1" } } };
        return this.#later("secrets", () => json(b, 200, { etag }), b);
      }
      case "skills": {
        const b = { ...ids, version: String(rt.skillsVersion), skills: [] };
        return this.#later("skills", () => json(b), b);
      }
      default:
        return this.#later(null, () => json({ error: { code: "NOT_FOUND", message: `no route for ${op}` } }, 404));
    }
  }

  #claim(rt: Runtime, req: { max: number; waitMs: number }, signal: AbortSignal | undefined): Promise<Response> {
    const ids = { accountId: ACCOUNT, runtimeId: rt.runtimeId };
    const limit = this.#mode.announce ? MAX_WAIT_MS : 60_000;
    if (req.waitMs > limit) return this.#later(null, () => json({ error: { code: "BAD_REQUEST", message: "waitMs: too big" } }, 400));
    const answer = (turns: object[]): object => {
      if (!this.#mode.announce) return { ...ids, turns, accepts: [...OPTIONAL_REQUEST_FIELDS] };
      rt.heard = this.#versions(rt);
      return { ...ids, turns, accepts: [...OPTIONAL_REQUEST_FIELDS], secretsVersion: String(rt.secretsVersion), skillsVersion: String(rt.skillsVersion), maxWaitMs: MAX_WAIT_MS };
    };
    const turns = this.#take(rt, req.max);
    const changed = this.#mode.announce && rt.heard !== this.#versions(rt);
    if (turns.length > 0 || changed || req.waitMs === 0) {
      const b = answer(turns);
      return this.#later("claim", () => json(b), b);
    }
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => {
        if (rt.parked === parked) rt.parked = undefined;
        parked.cancelTimer();
        reject(new DOMException("This operation was aborted", "AbortError"));
      };
      const parked: Parked = {
        max: req.max,
        answer: (t) => {
          signal?.removeEventListener("abort", onAbort);
          const b = answer(t);
          void this.#later("claim", () => json(b), b).then(resolve);
        },
        cancelTimer: () => {},
      };
      // The budget ends the long-poll with no turns (the answer's own latency comes on top).
      parked.cancelTimer = this.#clock.at(Math.max(0, req.waitMs - this.#mode.latencyMs), () => {
        if (rt.parked === parked) this.#wake(rt);
      });
      rt.parked = parked;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
