/**
 * The audit outbox: ships the audit trail to the control plane (`POST
 * /v1/runtimes/{runtimeId}/audit-events`, contract.ts `shipAuditEvents`) in batches of the oldest
 * entries not yet acknowledged, at least once: an entry is marked shipped only after the control
 * plane names its id as held, and the id is the idempotency key, so a batch sent again (after a
 * timeout, a crash before marking) is stored once. Failures back off (1 s doubling to
 * SYNC_BACKOFF_MAX_MS, or the answer's Retry-After); a control plane without the operation (404,
 * an older one) is asked again only after {@link AUDIT_UNSUPPORTED_RETRY_MS}, logged once.
 */
import type { Logger } from "pino";
import { backoffDelay } from "../core/backoff.ts";
import type { Clock } from "../core/clock.ts";
import type { AuditEntry, AuditStore } from "../store/audit.ts";
import type { ControlPlaneClient } from "./client.ts";
import { AUDIT_BATCH_MAX, type AuditEvent } from "./contract.ts";
import { ControlPlaneError } from "./errors.ts";

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
  store: Pick<AuditStore, "unshipped" | "markShipped" | "counts">;
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

  constructor(o: AuditOutboxOptions) {
    this.#o = o;
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
    try {
      const items = store.unshipped(batch);
      if (items.length === 0) return pollMs;
      const held = new Set(await client.shipAuditEvents(items.map(auditWire), signal ? { signal } : {}));
      const ids = items.filter((e) => held.has(e.id)).map((e) => e.id);
      store.markShipped(ids, clock.now());
      if (this.#unsupported) log.info("the control plane takes audit events now");
      this.#unsupported = false;
      if (ids.length < items.length) {
        log.warn({ sent: items.length, held: ids.length }, "the control plane did not hold every audit entry sent; sending the rest again later");
        return this.#backoff();
      }
      this.#failures = 0;
      return items.length === batch ? 0 : pollMs;
    } catch (err) {
      if (signal?.aborted) return pollMs;
      if (err instanceof ControlPlaneError && err.status === 404) {
        if (!this.#unsupported) log.warn({ code: err.code, retryInMs: this.#o.unsupportedRetryMs ?? AUDIT_UNSUPPORTED_RETRY_MS }, "the control plane does not take audit events (404: an older control plane?); the entries are kept and offered again later");
        this.#unsupported = true;
        return this.#o.unsupportedRetryMs ?? AUDIT_UNSUPPORTED_RETRY_MS;
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
      this.#o.onUnshipped?.(this.#o.store.counts().unshipped);
    } catch {
      // a gauge is not worth a failed loop
    }
  }
}
