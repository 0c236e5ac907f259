/**
 * The audit trail's port: every action the daemon takes on the host (a gateway start, stop or
 * restart, a config rewrite, secrets or skills applied or refused, a session repair, a decay run,
 * a doctor run, an OpenClaw install) is recorded through an {@link AuditLog} with its actor, its
 * cause and what changed. The rooms that act import only this; the daemon wires the SQLite-backed
 * implementation (store/audit-log.ts), a CLI command one that writes the file directly.
 */

/** Who caused an action: the daemon's own decision, a CLI command run by hand, or the control plane's answer. */
export const AUDIT_ACTORS = ["daemon", "operator", "control-plane"] as const;
/** See {@link AUDIT_ACTORS}. */
export type AuditActor = (typeof AUDIT_ACTORS)[number];

/**
 * The fixed set of actions (dotted: subject.verb), each one label value of
 * `agent_supervisor_audit_events_total{action}`:
 * - `gateway.start` a gateway process spawned; `gateway.stop` one stopped by the daemon (SIGTERM,
 *   SIGKILL after the grace); `gateway.restart` a restart decided after an exit or a stop, with its
 *   cause and delay; `gateway.hold` the gateway held (not restarted) until its configuration changes
 * - `config.rewrite` openclaw.json rewritten with changed keys (names only, never values)
 * - `secrets.apply` / `secrets.refuse`, `skills.apply` / `skills.refuse`: control-plane versions
 * - `session.repair` a session compacted or reset; `decay.run` a memory-decay pass
 * - `doctor.run` `openclaw doctor --fix` (EX_CONFIG step) or `agent-supervisor doctor`
 * - `openclaw.install` a runtime installed (or confirmed); `openclaw.switch` the current runtime changed to one already installed
 * - `audit.dropped` entries the daemon could not keep while SQLite refused writes;
 *   `audit.overflow` unshipped entries pruned past the hard cap (AUDIT_UNSHIPPED_MAX_ROWS)
 */
export const AUDIT_ACTIONS = [
  "gateway.start",
  "gateway.stop",
  "gateway.restart",
  "gateway.hold",
  "config.rewrite",
  "secrets.apply",
  "secrets.refuse",
  "skills.apply",
  "skills.refuse",
  "session.repair",
  "decay.run",
  "doctor.run",
  "openclaw.install",
  "openclaw.switch",
  "openclaw.upgrade",
  "audit.dropped",
  "audit.overflow",
] as const;
/** See {@link AUDIT_ACTIONS}. */
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * One action as a site reports it. `cause` is short text (clipped to {@link MAX_AUDIT_CAUSE_CHARS});
 * `detail` says what changed (versions, key names, counts, exit codes), never a secret or a value
 * of the configuration; it is stored as JSON (clipped to {@link MAX_AUDIT_DETAIL_BYTES}).
 */
export type AuditInput = { actor: AuditActor; action: AuditAction; cause: string; detail?: Record<string, unknown> };

/** Longest stored cause (characters). */
export const MAX_AUDIT_CAUSE_CHARS = 1024;
/** Largest stored detail (bytes of JSON); a larger one is replaced by `{truncated: true, bytes}`. */
export const MAX_AUDIT_DETAIL_BYTES = 8192;

/** Where sites record their actions. `record` never throws and never blocks on I/O failures. */
export interface AuditLog {
  record(entry: AuditInput): void;
}

/** An audit log that keeps nothing (tests, and parts built without a trail). */
export const NO_AUDIT: AuditLog = { record: () => {} };
