/**
 * The /tmp sweeps (tmp-sweep.ts) run as the gateway's user when the boundary is on (issue 11): the
 * gateway's scratch directories are its own, often 0700, in the sticky /tmp, so only that user may
 * remove them, and the daemon holds no capability that would let it (no CAP_DAC_OVERRIDE, no
 * CAP_FOWNER). The daemon runs its own executable's hidden `sweep-tmp` command through setpriv,
 * with an empty environment, and reads the result it prints as one JSON line. With the boundary
 * off, the sweep runs in the daemon's process, over the daemon's own files, as before.
 */
import type { SpawnFn } from "../core/os-process.ts";
import { runSelfAsGateway, type SelfCommand } from "../supervisor/as-gateway.ts";
import type { Boundary } from "../supervisor/gateway-user.ts";
import { sweepGatewayTmp, sweepStaleGatewayTmp, type StaleSweepResult, type SweepResult } from "./tmp-sweep.ts";

/** Options of {@link TmpSweeper}. */
export type TmpSweeperOptions = {
  tmpDir: string;
  /** The daemon's uid: whose files the in-process sweep removes. */
  selfUid: number;
  spawn: SpawnFn;
  self: SelfCommand;
};

/** The two sweeps, run as whoever owns the gateway's scratch files for the given boundary. */
export class TmpSweeper {
  readonly #o: TmpSweeperOptions;

  constructor(o: TmpSweeperOptions) {
    this.#o = o;
  }

  /**
   * Before a start: remove the gateway user's `openclaw*` entries whole.
   * @throws Error when the sweep as the gateway's user fails (its exit status and stderr)
   */
  async full(b: Boundary): Promise<SweepResult> {
    if (!b.on) return sweepGatewayTmp(this.#o.tmpDir, this.#o.selfUid);
    return (await this.#asUser(b, [])) as SweepResult;
  }

  /**
   * While it runs: remove files not modified for `staleMs`.
   * @throws Error when the sweep as the gateway's user fails
   */
  async stale(b: Boundary, nowMs: number, staleMs: number): Promise<StaleSweepResult> {
    if (!b.on) return sweepStaleGatewayTmp(this.#o.tmpDir, this.#o.selfUid, { nowMs, staleMs });
    return (await this.#asUser(b, ["--stale-ms", String(staleMs), "--now-ms", String(nowMs)])) as StaleSweepResult;
  }

  #asUser(b: Extract<Boundary, { on: true }>, extra: string[]): Promise<unknown> {
    return runSelfAsGateway(this.#o, b, "the /tmp sweep", ["sweep-tmp", "--dir", this.#o.tmpDir, ...extra]);
  }
}
