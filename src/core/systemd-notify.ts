/**
 * systemd integration: readiness, status text and watchdog keep-alives over the sd_notify(3)
 * protocol, behind a two-method interface (as buildkite/agent does) so tests can use a fake.
 *
 * Node has no AF_UNIX datagram sockets, so a message is sent by running `systemd-notify`
 * (systemd-notify(1)) with `--pid=<our pid> -- KEY=VALUE...`. That tool first sends with our pid
 * as the SCM_CREDENTIALS sender, which only works with privileges (root / CAP_SYS_ADMIN);
 * otherwise it sends under its own pid, which systemd accepts only with `NotifyAccess=all`. It then
 * waits (a `BARRIER=1` round trip, up to 5 s) until the manager has processed the message, so the
 * short-lived sender is still alive to be attributed to the unit. The unit therefore needs:
 *
 * ```ini
 * [Service]
 * Type=notify
 * NotifyAccess=all      # systemd-notify is a child of the daemon, not the main process
 * WatchdogSec=30s       # optional: the daemon pings every 15 s while it is healthy
 * ```
 *
 * `--pid` also adds `MAINPID=<our pid>`, a no-op while the daemon is the main process.
 */
import { execFile } from "node:child_process";
import { systemClock, type Clock } from "./clock.ts";
import { SupervisorError } from "./errors.ts";

/** Sends sd_notify state. `enabled` is false outside systemd (no `NOTIFY_SOCKET`); then `notify` does nothing. */
export type SystemdNotifier = {
  /**
   * Send `KEY=VALUE` pairs (`READY: "1"`, `STATUS: "..."`, `WATCHDOG: "1"`, `STOPPING: "1"`).
   * Resolves once a message carrying them was handed to systemd: true, or false when sending
   * failed (logged; disabled notifiers resolve true). Never rejects.
   */
  notify(state: Record<string, string>): Promise<boolean>;
  readonly enabled: boolean;
};

/** Runs `file` with `args` and the complete environment `env`; rejects on a non-zero exit or after `timeoutMs` (ms). */
export type NotifyExec = (
  file: string,
  args: readonly string[],
  options: { env: Record<string, string>; timeoutMs: number },
) => Promise<void>;

/** The logger calls the notifier makes (a pino `Logger` fits). */
export type NotifyLog = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

/** `systemd-notify` failed: exit code (or signal, or spawn error code) and the start of its stderr. */
export class SystemdNotifyError extends SupervisorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_SYSTEMD_NOTIFY", message, options);
  }
}

/** Options of {@link createSystemdNotifier}. */
export type SystemdNotifierOptions = {
  /** The daemon's environment (`process.env`); only `NOTIFY_SOCKET` and `PATH` are used. */
  env: Readonly<Record<string, string | undefined>>;
  /** How to run `systemd-notify` (default: `child_process.execFile`). */
  exec?: NotifyExec;
  log?: NotifyLog;
  /** For rate-limiting failure logs (default {@link systemClock}). */
  clock?: Pick<Clock, "now">;
  /** The pid named in `--pid=` (default `process.pid`). */
  pid?: number;
  /** The sender binary (default `systemd-notify`, looked up in `PATH`). */
  command?: string;
  /** Kill a sender still running after this many ms (default 10 000; its barrier waits up to 5 000). */
  timeoutMs?: number;
};

/** At most one failure log line per this many ms. */
export const NOTIFY_FAILURE_LOG_INTERVAL_MS = 60_000;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const KEY = /^[A-Z][A-Z0-9_]*$/;

/**
 * The `systemd-notify` arguments for `state`: `--pid=<pid>`, `--`, then `KEY=VALUE` per entry.
 * Keys that are not sd_notify-shaped (`[A-Z][A-Z0-9_]*`) are dropped; control characters in
 * values become spaces, since a newline would start another assignment in the datagram.
 */
export function notifyArgs(state: Record<string, string>, pid: number): string[] {
  const pairs = Object.entries(state)
    .filter(([k]) => KEY.test(k))
    .map(([k, v]) => `${k}=${v.replace(/[\u0000-\u001f\u007f]/g, " ")}`);
  return [`--pid=${pid}`, "--", ...pairs];
}

/** The default {@link NotifyExec}: execFile with a SIGKILL timeout; failures become {@link SystemdNotifyError}. */
export const execNotify: NotifyExec = (file, args, { env, timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 }, (err, _out, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { code?: unknown; signal?: string | null };
      const how = typeof e.code === "number" ? `exit ${e.code}` : e.signal ? `signal ${e.signal}` : String(e.code ?? e.message);
      const detail = String(stderr).trim().slice(0, 200);
      reject(new SystemdNotifyError(`${file} failed (${how})${detail ? `: ${detail}` : ""}`, { cause: err }));
    });
  });

/**
 * Create the notifier. Enabled only when `env.NOTIFY_SOCKET` is set (systemd sets it for
 * `Type=notify` units). Calls are serialized: while one message is in flight, later calls are
 * merged into one pending message (a later value of a key replaces an earlier one, so only the
 * latest `STATUS=` is sent). Never throws; failures are logged at most once per minute.
 */
export function createSystemdNotifier(options: SystemdNotifierOptions): SystemdNotifier {
  const socket = options.env.NOTIFY_SOCKET;
  if (!socket) return { enabled: false, notify: async () => true };
  const exec = options.exec ?? execNotify;
  const clock = options.clock ?? systemClock;
  const pid = options.pid ?? process.pid;
  const command = options.command ?? "systemd-notify";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const env = { NOTIFY_SOCKET: socket, PATH: options.env.PATH || DEFAULT_PATH };

  let pending: { state: Record<string, string>; done: ((ok: boolean) => void)[] } | undefined;
  let sending = false;
  let lastLogAt = -Infinity;
  let suppressed = 0;

  const failed = (err: unknown) => {
    const now = clock.now();
    if (now - lastLogAt < NOTIFY_FAILURE_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    options.log?.warn({ err, suppressed, notifySocket: socket }, "systemd notification failed");
    lastLogAt = now;
    suppressed = 0;
  };

  const pump = async () => {
    sending = true;
    while (pending) {
      const batch = pending;
      pending = undefined;
      let ok = true;
      try {
        await exec(command, notifyArgs(batch.state, pid), { env, timeoutMs });
      } catch (err) {
        ok = false;
        failed(err);
      }
      for (const done of batch.done) done(ok);
    }
    sending = false;
  };

  return {
    enabled: true,
    notify: (state) =>
      new Promise<boolean>((resolve) => {
        if (!Object.keys(state).some((k) => KEY.test(k))) return resolve(true);
        if (pending) {
          Object.assign(pending.state, state);
          pending.done.push(resolve);
        } else pending = { state: { ...state }, done: [resolve] };
        if (!sending) void pump();
      }),
  };
}

/**
 * The watchdog ping interval in ms: half of `WATCHDOG_USEC` (µs), because systemd recommends
 * notifying every half of WatchdogSec (sd_watchdog_enabled(3)). Null when `WATCHDOG_USEC` is
 * unset or not a positive integer, or when `WATCHDOG_PID` is set to another process (the
 * watchdog is not ours) or is malformed.
 * @param pid our pid (default `process.pid`)
 */
export function watchdogIntervalMs(env: Readonly<Record<string, string | undefined>>, pid: number = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^\d+$/.test(usec) || Number(usec) <= 0) return null;
  const wpid = env.WATCHDOG_PID;
  if (wpid !== undefined && wpid !== "" && (!/^\d+$/.test(wpid) || Number(wpid) !== pid)) return null;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}
