/**
 * Which install failures of a version change are worth retrying (issue 14), and when. Pure.
 *
 * The install step changes nothing the running gateway needs (install.ts installs beside the
 * current version and leaves current.json alone), so a failure there that may go away by itself
 * (the registry unreachable or overloaded, a timeout, a full disk) is retried with backoff
 * instead of marking the version failed until the desired version changes. A failure that will
 * not go away by waiting (the version does not exist, a package fails its integrity check, the
 * engine or platform is unsupported) marks it failed, as any other failed change.
 */
import { backoffDelay } from "../core/backoff.ts";
import { ConfigError } from "../core/errors.ts";
import { NpmError, RUNTIME_ERROR_CODES as E, RegistryError, RuntimeError } from "./errors.ts";

/** `permanent`: the version is marked failed; `transient`: the install is retried later. */
export type InstallFailureKind = "permanent" | "transient";

/**
 * Retry backoff of a transient install failure (ms): 1 min doubling to 1 h, with the project's
 * equal jitter (core/backoff.ts), so a fleet that lost its registry does not come back at once.
 */
export const INSTALL_RETRY_BACKOFF = { initialMs: 60_000, maxMs: 3_600_000 } as const;

/** HTTP statuses that say the version is not there (npm answers 404 for a missing version). */
const GONE_STATUSES = new Set([404, 410]);

/**
 * npm error codes that no wait fixes: the package or version does not exist (`E404`, `E410`,
 * `ETARGET`, `ENOVERSIONS`), a tarball fails its integrity (`EINTEGRITY`), or the package refuses
 * this Node or platform (`EBADENGINE`, `EBADPLATFORM`). Names from npm's error handler
 * (lib/utils/error-message.js) and npm-pick-manifest.
 */
const PERMANENT_NPM_CODES = new Set(["E404", "E410", "ETARGET", "ENOVERSIONS", "EINTEGRITY", "EBADENGINE", "EBADPLATFORM"]);

/** True when `err` (or its cause) carries a Node fs/network errno code such as ENOSPC or EIO. */
function hasErrnoCause(err: unknown): boolean {
  const cause = (err as { cause?: unknown })?.cause;
  return typeof (cause as NodeJS.ErrnoException | undefined)?.code === "string" && /^E[A-Z]+$/.test((cause as NodeJS.ErrnoException).code as string);
}

/**
 * Classify an error thrown by installOpenclaw (install.ts) by its typed code. Pure.
 * - permanent: ConfigError (a version that is not a plain version string); RegistryError HTTP 404
 *   / 410; ERR_INTEGRITY; ERR_UNSUPPORTED_PLATFORM; ERR_TARBALL_INVALID unless a fs error caused
 *   it (the tarball passed its integrity check, so the package itself is unusable); NpmError whose
 *   npm code is one of PERMANENT_NPM_CODES
 * - transient: everything else: the registry unreachable, 5xx, 429, 401/403 (credentials can be
 *   fixed without a new version), a bad response, a timeout, a full disk (ENOSPC), another
 *   installer holding the lock, npm failing with any other code or none
 */
export function classifyInstallError(err: unknown): InstallFailureKind {
  if (err instanceof ConfigError) return "permanent";
  if (err instanceof RegistryError && err.code === E.REGISTRY_HTTP) return err.status !== undefined && GONE_STATUSES.has(err.status) ? "permanent" : "transient";
  if (err instanceof NpmError) return err.npmCode !== undefined && PERMANENT_NPM_CODES.has(err.npmCode) ? "permanent" : "transient";
  if (err instanceof RuntimeError) {
    if (err.code === E.INTEGRITY || err.code === E.UNSUPPORTED_PLATFORM) return "permanent";
    if (err.code === E.TARBALL_INVALID) return hasErrnoCause(err) ? "transient" : "permanent";
  }
  return "transient";
}

/**
 * The pending retry of a version whose install failed transiently, as kept in upgrade/state.json
 * (upgrade-journal.ts): `attempts` failed so far (1 after the first), `nextAt` epoch ms before
 * which it is not tried again, `reason` the last failure (`upgrade failed: install: ...`).
 */
export type InstallRetry = { version: string; attempts: number; nextAt: number; reason: string };

/**
 * The retry after the `attempts`-th transient failure at `nowMs`. Pure.
 * @param attempts failures so far, 1 after the first
 * @param random a function returning [0, 1) (the jitter)
 * @returns epoch ms of the next attempt: nowMs + [d/2, d], d = min(1 h, 1 min * 2^(attempts-1))
 */
export function nextInstallRetryAt(attempts: number, nowMs: number, random: () => number): number {
  return nowMs + backoffDelay(Math.max(0, attempts - 1), INSTALL_RETRY_BACKOFF, random);
}

/** The versions view's `problem` for a pending retry (the reason's first line). Pure. */
export function installRetryProblem(r: InstallRetry): string {
  const reason = r.reason.replace(/^upgrade failed: (install: )?/, "");
  return `installing OpenClaw ${r.version} failed (attempt ${r.attempts}, transient): ${reason}; retrying at ${new Date(r.nextAt).toISOString()}`;
}
