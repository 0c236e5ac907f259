/**
 * The audit outbox: ships the audit trail to the control plane (`POST
 * /v1/runtimes/{runtimeId}/audit-events`, contract.ts `shipAuditEvents`) in batches of the oldest
 * entries not yet acknowledged, at least once: an entry is marked shipped only after the control
 * plane names its id as held, and the id is the idempotency key, so a batch sent again (after a
 * timeout, a crash before marking) is stored once. Failures back off (1 s doubling to
 * SYNC_BACKOFF_MAX_MS, or the answer's Retry-After); a control plane without the operation (404,
 * an older one) is asked again only after {@link AUDIT_UNSUPPORTED_RETRY_MS}, logged once.
 *
 * A batch the control plane refuses as such (400, 413, 422: too large, or an entry it cannot take)
 * must not block everything behind it: the batch is halved until it goes, down to one entry; an
 * entry refused on its own is set aside (logged with its id and action, counted in `refused`,
 * offered again only after a daemon restart) and the rest ships. A batch is also cut to
 * {@link AUDIT_BATCH_MAX_BYTES} of JSON, below common proxy limits (nginx: 1 MiB).
 */
import type { Logger } from "pino";
import { backoffDelay } from "../core/backoff.ts";
import type { Clock } from "../core/clock.ts";
import type { AuditEntry, AuditStore } from "../store/audit.ts";
import type { ControlPlaneClient } from "./client.ts";
import { AUDIT_BATCH_MAX, type AuditEvent } from "./contract.ts";
import { ControlPlaneError } from "./errors.ts";

/** Most bytes of JSON events one batch carries (at least one entry goes, whatever its size). */
export const AUDIT_BATCH_MAX_BYTES = 512 * 1024;

/** True for an answer that refuses the batch itself (retrying it unchanged cannot succeed). */
export function refusesBatch(err: unknown): boolean {
  if (!(err instanceof ControlPlaneError)) return false;
  if (err.code === "ERR_CP_INVALID_REQUEST") return true;
  return err.code === "ERR_CP_HTTP" && err.status !== null && [400, 413, 422].includes(err.status);
}

/** The longest prefix of `items` whose wire JSON fits `maxBytes` (at least one item). Pure. */
export function fitBatch(items: readonly AuditEntry[], maxBytes: number): AuditEntry[] {
  let bytes = 0;
  const out: AuditEntry[] = [];
  for (const e of items) {
    bytes += Buffer.byteLength(JSON.stringify(auditWire(e)), "utf8") + 1;
    if (out.length > 0 && bytes > maxBytes) break;
    out.push(e);
  }
  return out;
}

/** How often the outbox looks for new entries when idle (ms); {@link AuditOutbox.notify} cuts it short. */
export const AUDIT_SHIP_POLL_MS = 10_000;
/** Pause after a 404 (a control plane without the operation) before asking again (ms). */
export const AUDIT_UNSUPPORTED_RETRY_MS = 3_600_000;

/** An entry as the contract sends it (times as RFC 3339). Pure. */
export function auditWire(e: AuditEntry): AuditEvent {
  return { id: e.id, seq: e.seq, at: new Date(e.at).toISOString(), actor: e.actor, action: e.action, cause: e.cause, detail: e.detail };
}

/** Options of {@link AuditOutbox}. Times are ms. */
export type AuditOutboxOptions = {
  client: Pick<ControlPlaneClient, "shipAuditEvents">;
  store: Pick<AuditStore, "unshipped" | "markShipped" | "unshippedCount">;
  clock: Clock;
  random: () => number;
  log: Logger;
  /** Longest backoff after failures (SYNC_BACKOFF_MAX_MS). */
  backoffMaxMs: number;
  /** Default {@link AUDIT_SHIP_POLL_MS}. */
  pollMs?: number;
  /** Default {@link AUDIT_UNSUPPORTED_RETRY_MS}. */
  unsupportedRetryMs?: number;
  /** Default AUDIT_BATCH_MAX. */
  batch?: number;
  /** Told the number of entries not yet shipped after each pass (the `agent_supervisor_audit_unshipped_events` gauge). */
  onUnshipped?: (count: number) => void;
};

/** The outbox loop (see the module comment). */
export class AuditOutbox {
  readonly #o: AuditOutboxOptions;
  #wake: (() => void) | undefined;
  #failures = 0;
  #unsupported = false;
  /** notify() came while no wait was under way (during a pass): look again at once. */
  #notified = false;
  /** The batch size now: halved after a refused batch, doubled back after a good one. */
  #limit: number;
  /** Ids of entries the control plane refused on their own, skipped until the daemon restarts. */
  readonly #refused = new Set<string>();

  constructor(o: AuditOutboxOptions) {
    this.#o = o;
    this.#limit = o.batch ?? AUDIT_BATCH_MAX;
  }

  /** Entries set aside because the control plane refused them on their own (until a restart). */
  get refused(): number {
    return this.#refused.size;
  }

  /** A new entry was recorded: look now instead of at the next poll (not while backing off). */
  notify(): void {
    if (this.#wake) this.#wake();
    else this.#notified = true;
  }

  /** Ship until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const waitMs = await this.shipOnce(signal);
      if (waitMs === 0 || signal.aborted) continue;
      const wake = new AbortController();
      // Only an idle wait is cut short by new entries; a backoff is not hurried into an outage.
      const idle = waitMs === (this.#o.pollMs ?? AUDIT_SHIP_POLL_MS);
      if (idle && this.#notified) continue;
      if (idle) this.#wake = () => wake.abort();
      await this.#o.clock.sleep(waitMs, AbortSignal.any([signal, wake.signal]));
      this.#wake = undefined;
    }
  }

  /**
   * Ship one batch. Never throws.
   * @returns how long to wait before the next (ms): 0 when a full batch went (more may be due)
   */
  async shipOnce(signal?: AbortSignal): Promise<number> {
    const { client, store, clock, log } = this.#o;
    const pollMs = this.#o.pollMs ?? AUDIT_SHIP_POLL_MS;
    const batch = this.#o.batch ?? AUDIT_BATCH_MAX;
    this.#notified = false;
    let items: AuditEntry[] = [];
    const limit = this.#limit;
    try {
      const due = store.unshipped(limit + this.#refused.size).filter((e) => !this.#refused.has(e.id));
      items = fitBatch(due.slice(0, limit), AUDIT_BATCH_MAX_BYTES);
      if (items.length === 0) return pollMs;
      const held = new Set(await client.shipAuditEvents(items.map(auditWire), signal ? { signal } : {}));
      const ids = items.filter((e) => held.has(e.id)).map((e) => e.id);
      store.markShipped(ids, clock.now());
      if (this.#unsupported) log.info("the control plane takes audit events now");
      this.#unsupported = false;
      if (ids.length < items.length) {
        log.warn({ sent: items.length, held: ids.length }, "the control plane did not hold every audit entry sent; sending the rest again later");
        if (ids.length > 0) this.#failures = 0; // progress: no longer and longer waits for one entry
        return this.#backoff();
      }
      this.#failures = 0;
      this.#limit = Math.min(batch, limit * 2);
      // More may be due: the batch was full, or cut by its size.
      return due.length >= limit || due.length > items.length ? 0 : pollMs;
    } catch (err) {
      if (signal?.aborted) return pollMs;
      if (err instanceof ControlPlaneError && err.status === 404) {
        if (!this.#unsupported) log.warn({ code: err.code, retryInMs: this.#o.unsupportedRetryMs ?? AUDIT_UNSUPPORTED_RETRY_MS }, "the control plane does not take audit events (404: an older control plane?); the entries are kept and offered again later");
        this.#unsupported = true;
        return this.#o.unsupportedRetryMs ?? AUDIT_UNSUPPORTED_RETRY_MS;
      }
      if (refusesBatch(err) && items.length > 1) {
        this.#limit = Math.max(1, Math.floor(items.length / 2));
        log.warn({ code: (err as ControlPlaneError).code, status: (err as ControlPlaneError).status, sent: items.length, next: this.#limit }, "the control plane refused a batch of audit entries; sending smaller ones");
        return 0;
      }
      if (refusesBatch(err) && items.length === 1) {
        const e = items[0]!;
        this.#refused.add(e.id);
        log.error({ id: e.id, seq: e.seq, action: e.action, code: (err as ControlPlaneError).code, status: (err as ControlPlaneError).status, err: (err as Error).message }, "the control plane refused an audit entry on its own; it is kept here, set aside until the daemon restarts, and the rest ships");
        return 0;
      }
      const delay = this.#backoff(err instanceof ControlPlaneError ? (err.retryAfterMs ?? undefined) : undefined);
      log.warn({ code: (err as { code?: unknown }).code, err: (err as Error).message, retryInMs: delay }, "shipping audit entries failed; retrying");
      return delay;
    } finally {
      this.#report();
    }
  }

  #backoff(retryAfterMs?: number | undefined): number {
    const delay = backoffDelay(this.#failures++, { initialMs: 1000, maxMs: this.#o.backoffMaxMs }, this.#o.random);
    return retryAfterMs === undefined ? delay : Math.max(delay, retryAfterMs);
  }

  #report(): void {
    try {
      this.#o.onUnshipped?.(this.#o.store.unshippedCount());
    } catch {
      // a gauge is not worth a failed loop
    }
  }
}
