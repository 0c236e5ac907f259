/**
 * Stopping, in two stages. The first SIGTERM or SIGINT drains: the local API refuses new turns,
 * claiming stops, systemd hears STOPPING=1, and in-flight turns get up to DRAIN_TIMEOUT_MS to
 * finish (what is left resumes on the next start; nothing is lost). A second signal kills the
 * gateway's process group and exits at once (EX_SOFTWARE). SIGHUP polls the control plane for
 * secrets and skills now.
 */
import { EXIT } from "../core/errors.ts";
import type { Parts } from "./assemble.ts";

/** What a stop signal needs besides the assembled parts. */
export type StopHooks = {
  /** Stop claiming from the control plane (absent in standalone mode). */
  stopClaiming?: (() => void) | undefined;
  /** Tell systemd we are stopping (STOPPING=1). */
  notifyStopping: () => void;
};

/** The signal handlers, installed. */
export type Lifecycle = {
  /** Resolves once the drain after the first stop signal has ended (turns finished or deadline). */
  drained: Promise<void>;
  /** True once a stop signal arrived. */
  readonly stopping: boolean;
};

/**
 * Install the handlers. Call before READY=1: from then on systemd may stop us, and a stop must
 * drain, not kill.
 */
export function installSignalHandlers(p: Parts, hooks: StopHooks): Lifecycle {
  const { host, log, s, service, delivery, supervisor } = p;
  let signals = 0;
  const drained = new Promise<void>((resolve) => {
    const onStop = (sig: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        log.warn({ signal: sig }, "second signal: exiting now");
        supervisor.killNow();
        host.exit(EXIT.SOFTWARE);
        return;
      }
      log.info({ signal: sig, graceMs: s.DRAIN_TIMEOUT_MS }, "draining: no new turns; waiting for in-flight turns");
      service.startDraining();
      hooks.stopClaiming?.();
      hooks.notifyStopping();
      void delivery.drain(s.DRAIN_TIMEOUT_MS).then((left) => {
        if (left > 0) log.warn({ left }, "drain deadline reached; unfinished turns resume on next start");
        resolve();
      });
    };
    host.onSignal("SIGTERM", onStop);
    host.onSignal("SIGINT", onStop);
  });
  return {
    drained,
    get stopping() {
      return signals > 0;
    },
  };
}

/** SIGHUP: poll the control plane for secrets and skills now. */
export function installRefreshHandler(p: Parts, refresh: (() => void) | undefined): void {
  p.host.onSignal("SIGHUP", () => {
    p.log.info("SIGHUP: polling the control plane for secrets and skills now");
    refresh?.();
  });
}
