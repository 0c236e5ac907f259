/**
 * Typed errors of memory decay. Step-level errors are recorded in the journal (the run goes on
 * with the next step); {@link DecayBusyError} and {@link DecayStepsFailedError} reach the caller.
 */
import { SupervisorError, UnavailableError } from "../core/errors.ts";

/**
 * Stable codes:
 * - `ERR_DECAY_CONFLICT`: the destination of a move already exists (nothing is overwritten)
 * - `ERR_DECAY_SYMLINK`: a directory on the path is a symlink (never followed)
 * - `ERR_DECAY_NOT_A_FILE`: a roll-up target exists but is not a regular file
 * - `ERR_DECAY_ROLLUP_CORRUPT`: a roll-up's markers do not frame their content (edited by hand?)
 * - `ERR_DECAY_PATH`: a journaled path escapes the workspace
 */
export class DecayError extends SupervisorError {}

/**
 * Another live process is applying decay to the same workspace (`ERR_DECAY_BUSY`, exit 69).
 * A run whose owner died, or has not advanced for {@link DECAY_LEASE_MS}, is taken over instead.
 */
export class DecayBusyError extends UnavailableError {
  readonly ownerPid: number;
  constructor(ownerPid: number) {
    super("ERR_DECAY_BUSY", `memory decay is already running in process ${ownerPid}; try again later`);
    this.ownerPid = ownerPid;
  }
}

/** `agent-supervisor decay` finished, but some steps failed (`ERR_DECAY_STEPS_FAILED`, exit 70). */
export class DecayStepsFailedError extends SupervisorError {
  readonly failed: number;
  constructor(failed: number) {
    super("ERR_DECAY_STEPS_FAILED", `${failed} decay step(s) failed; their files were left in place`);
    this.failed = failed;
  }
}

/** A run that has not recorded a step for this long (ms) may be taken over by another process. */
export const DECAY_LEASE_MS = 10 * 60_000;
