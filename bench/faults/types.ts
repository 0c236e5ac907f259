/**
 * Shapes shared by the fault-injection suite: what a case gets, what it reports, how it is listed.
 */
import type { RealPool } from "./real-session.ts";

/**
 * What one fault did to the daemon. Times are milliseconds from the moment the fault was injected
 * (see each case for that moment); null when it does not apply, with the reason in `notes`.
 */
export type FaultResult = {
  /** Short name of the fault, as in the table. */
  fault: string;
  /** True when the real OpenClaw gateway ran; false for a stand-in child. */
  realGateway: boolean;
  /** Fault → the daemon's first recorded reaction (a gateway_events row, a /health change, swept files). */
  detectedMs: number | null;
  /** Fault → /readyz 200 again and a fresh turn completed. */
  servingAgainMs: number | null;
  /** Accepted turns that did not end `done` exactly once (or, with a stand-in, vanished or failed). */
  lost: number;
  /** Accepted turns that ran or were reported more than once. */
  duplicated: number;
  /** What happened, in words: events, reasons, settings that shaped the numbers. */
  notes: string;
};

/** What a case gets from the runner. */
export type FaultContext = {
  /** The managed OpenClaw runtime (`.cache/e2e-runtime/runtime`); its current.json names node and entry. */
  runtimeDir: string;
  /** A fresh directory the case may fill; removed afterwards unless the run keeps it. */
  workDir: string;
  /** Progress line to stderr. */
  log: (line: string) => void;
  /** The shared real-gateway daemon (booted once, reused by the real cases). */
  real: RealPool;
};

/** One case of the suite. */
export type FaultCase = {
  /** Stable id for `--only`. */
  id: string;
  /** Name in the table. */
  fault: string;
  /** Runs without the real gateway in well under a minute (CI). */
  fast: boolean;
  realGateway: boolean;
  /** How the fault is provoked and with which settings, for docs/reliability.md. */
  how: string;
  /** Inject the fault and measure; built by bench/faults/runner.ts from what the case states. */
  run: (ctx: FaultContext) => Promise<FaultResult>;
};
