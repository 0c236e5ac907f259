/**
 * The gateway scratch sweeps (tmp-sweep.ts) over both directories they cover, TMP_DIR and the
 * gateway state directory's `tmp/`, run as the gateway's user when the boundary is on (issue 11):
 * the gateway's scratch directories are its own, often 0700, in the sticky /tmp, so only that user
 * may remove them, and the daemon holds no capability that would let it (no CAP_DAC_OVERRIDE, no
 * CAP_FOWNER); the state `tmp/` lies in the gateway's tree, where the daemon must not delete
 * (supervisor/as-gateway.ts says why). The daemon runs its own executable's hidden `sweep-tmp`
 * command through setpriv, with an empty environment, once for both directories, and reads the
 * result it prints as one JSON line. With the boundary off, the sweeps run in the daemon's
 * process, over the daemon's own files.
 */
import type { SpawnFn } from "../core/os-process.ts";
import { runSelfAsGateway, type SelfCommand } from "../supervisor/as-gateway.ts";
import type { Boundary } from "../supervisor/gateway-user.ts";
import { sweepGatewayTmp, sweepStaleGatewayTmp, type StaleSweepResult, type SweepResult, type TmpRootKind } from "./tmp-sweep.ts";

/** Options of {@link TmpSweeper}. */
export type TmpSweeperOptions = {
  /** TMP_DIR. */
  tmpDir: string;
  /** The gateway state directory's `tmp/` (`<data>/gateway/state/tmp`). */
  stateTmpDir: string;
  /** The daemon's uid: whose files the in-process sweep removes. */
  selfUid: number;
  spawn: SpawnFn;
  self: SelfCommand;
};

/** One sweep's results per directory: `tmp` (TMP_DIR) and `stateTmp` (the state directory's `tmp/`). */
export type TmpSweeps<R> = { tmp: R; stateTmp: R };

/**
 * What one sweep of both directories removed, per root (for /metrics and logs). Pure. Before a
 * start an entry is a whole tree; while running, a file, link or directory.
 * @returns `bytes` (lstat sizes) and `entries` for `tmp` and `state-tmp`
 */
export function sweptTotals(r: TmpSweeps<SweepResult | StaleSweepResult>): { root: TmpRootKind; bytes: number; entries: number }[] {
  const one = (x: SweepResult | StaleSweepResult) => ("removed" in x ? x.removed.length : x.removedFiles + x.removedDirs);
  return [
    { root: "tmp", bytes: r.tmp.removedBytes, entries: one(r.tmp) },
    { root: "state-tmp", bytes: r.stateTmp.removedBytes, entries: one(r.stateTmp) },
  ];
}

/** Both sweeps over the two directories in-process, as user `uid` (the `sweep-tmp` command's work). */
export const sweepBoth = {
  /** Before a start: remove the entries whole. */
  full: async (tmpDir: string, stateTmpDir: string, uid: number): Promise<TmpSweeps<SweepResult>> => ({
    tmp: await sweepGatewayTmp(tmpDir, uid, "tmp"),
    stateTmp: await sweepGatewayTmp(stateTmpDir, uid, "state-tmp"),
  }),
  /** While it runs: files not modified for `staleMs` (ms) before `nowMs` (epoch ms). */
  stale: async (tmpDir: string, stateTmpDir: string, uid: number, nowMs: number, staleMs: number): Promise<TmpSweeps<StaleSweepResult>> => ({
    tmp: await sweepStaleGatewayTmp(tmpDir, uid, { nowMs, staleMs, kind: "tmp" }),
    stateTmp: await sweepStaleGatewayTmp(stateTmpDir, uid, { nowMs, staleMs, kind: "state-tmp" }),
  }),
};

/** The two sweeps, run as whoever owns the gateway's scratch files for the given boundary. */
export class TmpSweeper {
  readonly #o: TmpSweeperOptions;

  constructor(o: TmpSweeperOptions) {
    this.#o = o;
  }

  /**
   * Before a start: remove the gateway user's entries whole, in both directories.
   * @throws Error when the sweep as the gateway's user fails (its exit status and stderr)
   */
  async full(b: Boundary): Promise<TmpSweeps<SweepResult>> {
    const { tmpDir, stateTmpDir, selfUid } = this.#o;
    if (!b.on) return sweepBoth.full(tmpDir, stateTmpDir, selfUid);
    return (await this.#asUser(b, [])) as TmpSweeps<SweepResult>;
  }

  /**
   * While it runs: remove files not modified for `staleMs` (ms), in both directories.
   * @throws Error when the sweep as the gateway's user fails
   */
  async stale(b: Boundary, nowMs: number, staleMs: number): Promise<TmpSweeps<StaleSweepResult>> {
    const { tmpDir, stateTmpDir, selfUid } = this.#o;
    if (!b.on) return sweepBoth.stale(tmpDir, stateTmpDir, selfUid, nowMs, staleMs);
    return (await this.#asUser(b, ["--stale-ms", String(staleMs), "--now-ms", String(nowMs)])) as TmpSweeps<StaleSweepResult>;
  }

  #asUser(b: Extract<Boundary, { on: true }>, extra: string[]): Promise<unknown> {
    return runSelfAsGateway(this.#o, b, "the /tmp sweep", ["sweep-tmp", "--dir", this.#o.tmpDir, "--state-tmp", this.#o.stateTmpDir, ...extra]);
  }
}
