/**
 * Leases timed on the monotonic clock, so the host's wall clock does not matter: a host 10 minutes
 * fast would otherwise see every claimed lease as expired on arrival, and a forward NTP step would
 * expire every lease at once.
 *
 * A lease runs for its time-to-live from when the answer that granted or extended it arrived. The
 * TTL is the control plane's `leaseTtlMs` when it sends one, else `leaseExpiresAt` minus the
 * server's now as the answer's HTTP `Date` header bounds it (both the server's clock), else, with
 * neither, `leaseExpiresAt` minus the host's clock (the one case where host skew still counts).
 */
import type { Clock } from "../core/clock.ts";
import type { LiveLease } from "../store/central.ts";

/** An HTTP Date has whole seconds (truncated): the server's own now may be up to this much later (ms). */
export const DATE_HEADER_RESOLUTION_MS = 1000;

/** Where a lease's TTL came from (see {@link leaseTtl}). */
export type TtlSource = "server" | "date-header" | "host-clock";

/**
 * Pure: the time a lease has left when its answer arrived (ms, >= 0).
 * @param lease `leaseExpiresAt` (RFC 3339) and the optional `leaseTtlMs` of the answer
 * @param serverDateMs the answer's `Date` header (epoch ms), or null when absent or unparseable
 * @param hostNowMs the host's wall clock when the answer arrived (epoch ms)
 */
export function leaseTtl(lease: { leaseExpiresAt: string; leaseTtlMs?: number | undefined }, serverDateMs: number | null, hostNowMs: number): { ttlMs: number; source: TtlSource } {
  if (lease.leaseTtlMs !== undefined) return { ttlMs: Math.max(0, lease.leaseTtlMs), source: "server" };
  const expiresAt = Date.parse(lease.leaseExpiresAt);
  if (serverDateMs === null) return { ttlMs: Math.max(0, expiresAt - hostNowMs), source: "host-clock" };
  // The header is truncated to the second, so the server's now was in [date, date + 1 s). A host
  // clock inside that second agrees and is finer; any other is wrong: take the second's end (shorter, safe).
  const agrees = hostNowMs >= serverDateMs && hostNowMs < serverDateMs + DATE_HEADER_RESOLUTION_MS;
  const serverNowMs = agrees ? hostNowMs : serverDateMs + DATE_HEADER_RESOLUTION_MS;
  return { ttlMs: Math.max(0, expiresAt - serverNowMs), source: "date-header" };
}

/** Pure: an HTTP `Date` header as epoch ms, or null when absent or not a date. */
export function parseHttpDate(value: string | null): number | null {
  if (value === null) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : at;
}

/**
 * Monotonic deadlines of the leases this runtime holds, in memory. The store keeps each lease's
 * expiry as a wall-clock estimate (host now + TTL when the answer arrived) for views and for the
 * next process; a lease first seen here without an answer (after a daemon restart) is rebased once
 * from that estimate and from then on runs on the monotonic clock.
 */
export class LeaseClock {
  readonly #clock: Clock;
  readonly #deadlines = new Map<string, number>();
  /** When each lease was first seen here (monotonic ms): granted by a claim, or found after a restart. */
  readonly #since = new Map<string, number>();
  /** Leases no longer extended (see worker_heartbeat.ts, hoarded). */
  readonly #released = new Set<string>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * An answer granted or extended a lease: it runs `ttlMs` from now.
   * @returns the wall-clock estimate of its expiry (epoch ms), to store
   */
  granted(turnId: string, leaseId: string, ttlMs: number): number {
    const k = key(turnId, leaseId);
    this.#deadlines.set(k, this.#clock.monotonic() + ttlMs);
    if (!this.#since.has(k)) this.#since.set(k, this.#clock.monotonic());
    return this.#clock.now() + ttlMs;
  }

  /** How long this runtime has held a lease (ms, monotonic), counted from its claim or, after a restart, from first sight. */
  heldMs(lease: LiveLease): number {
    const k = key(lease.turnId, lease.leaseId);
    let since = this.#since.get(k);
    if (since === undefined) {
      since = this.#clock.monotonic();
      this.#since.set(k, since);
    }
    return this.#clock.monotonic() - since;
  }

  /** Time left of a held lease (ms; <= 0 once it has run out). */
  leftMs(lease: LiveLease): number {
    const k = key(lease.turnId, lease.leaseId);
    let deadline = this.#deadlines.get(k);
    if (deadline === undefined) {
      deadline = this.#clock.monotonic() + (lease.expiresAt - this.#clock.now());
      this.#deadlines.set(k, deadline);
    }
    return deadline - this.#clock.monotonic();
  }

  /** Note that a lease is no longer extended. @returns true the first time for this lease */
  markReleased(lease: LiveLease): boolean {
    const k = key(lease.turnId, lease.leaseId);
    if (this.#released.has(k)) return false;
    this.#released.add(k);
    return true;
  }

  /** Forget the leases not in `held` (finished, lost or replaced). */
  keepOnly(held: readonly LiveLease[]): void {
    const keep = new Set(held.map((l) => key(l.turnId, l.leaseId)));
    for (const m of [this.#deadlines, this.#since, this.#released]) for (const k of m.keys()) if (!keep.has(k)) m.delete(k);
  }
}

const key = (turnId: string, leaseId: string) => `${turnId}\u0000${leaseId}`;
