/**
 * Typed errors of the managed OpenClaw runtime (`openclaw install` and runtime resolution).
 *
 * All extend {@link UnavailableError} (exit code 69, EX_UNAVAILABLE): each means "the runtime
 * the daemon needs cannot be had right now", and the operator's fix is outside the process
 * (network, registry, disk, running `agent-supervisor openclaw install`). Branch on `code`.
 */
import { UnavailableError } from "../core/errors.ts";

/** Stable codes raised by this module. */
export const RUNTIME_ERROR_CODES = {
  /** The registry answered a non-2xx status (`status` says which). */
  REGISTRY_HTTP: "ERR_REGISTRY_HTTP",
  /** The registry could not be reached (DNS, TCP, TLS, reset mid-body). */
  REGISTRY_NETWORK: "ERR_REGISTRY_NETWORK",
  /** The registry answered 2xx with a body that is not the expected JSON document. */
  REGISTRY_RESPONSE: "ERR_REGISTRY_RESPONSE",
  /** A tarball is larger than the configured limit (bytes). */
  TARBALL_TOO_LARGE: "ERR_TARBALL_TOO_LARGE",
  /** A tarball's digest differs from the registry's `dist.integrity`. */
  INTEGRITY: "ERR_INTEGRITY",
  /** A tarball is unreadable or holds unsafe paths (`..`, escaping links). */
  TARBALL_INVALID: "ERR_TARBALL_INVALID",
  /** `npm install openclaw@V` failed (exit status, signal or could not start). */
  NPM_INSTALL: "ERR_NPM_INSTALL",
  /** An installed piece is missing a file it must have, or the Node binary does not run. */
  INSTALL_INCOMPLETE: "ERR_INSTALL_INCOMPLETE",
  /** Another installer holds `<dataDir>/runtime/.install.lock`. */
  INSTALL_LOCKED: "ERR_INSTALL_LOCKED",
  /** No Node package exists for this OS/CPU (only linux x64 and arm64 are supported). */
  UNSUPPORTED_PLATFORM: "ERR_UNSUPPORTED_PLATFORM",
  /** No usable managed runtime for the configured OPENCLAW_VERSION (run `openclaw install`). */
  RUNTIME_MISSING: "ERR_RUNTIME_MISSING",
  /** OPENCLAW_NODE / OPENCLAW_ENTRY point at files that do not exist or cannot be run. */
  RUNTIME_EXTERNAL: "ERR_RUNTIME_EXTERNAL",
} as const;

/** One of {@link RUNTIME_ERROR_CODES}. */
export type RuntimeErrorCode = (typeof RUNTIME_ERROR_CODES)[keyof typeof RUNTIME_ERROR_CODES];

/** Any error of this module. `code` is one of {@link RUNTIME_ERROR_CODES}. */
export class RuntimeError extends UnavailableError {
  declare readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A registry request failed. `url` has credentials stripped; `status` is the HTTP status for
 * `ERR_REGISTRY_HTTP` and undefined otherwise.
 */
export class RegistryError extends RuntimeError {
  readonly url: string;
  readonly status: number | undefined;
  constructor(
    code: RuntimeErrorCode,
    message: string,
    details: { url: string; status?: number },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.url = details.url;
    this.status = details.status;
  }
}

/**
 * `npm install` / `npm rebuild` failed (ERR_NPM_INSTALL). `npmCode` is npm's own error code from
 * its `npm error code <CODE>` line (`E404`, `ETARGET`, `EINTEGRITY`, `ECONNREFUSED`, `ENOSPC`, ...;
 * npm-registry-fetch and npm's error handler print it), undefined when npm printed none (it could
 * not start, was killed, or failed in a lifecycle script).
 */
export class NpmError extends RuntimeError {
  readonly npmCode: string | undefined;
  constructor(message: string, npmCode: string | undefined, options?: { cause?: unknown }) {
    super(RUNTIME_ERROR_CODES.NPM_INSTALL, message, options);
    this.npmCode = npmCode;
  }
}

/** A tarball's digest does not match `dist.integrity`. Digests are base64, as in SRI. */
export class IntegrityError extends RuntimeError {
  readonly expected: string;
  readonly actual: string;
  constructor(message: string, details: { expected: string; actual: string }) {
    super(RUNTIME_ERROR_CODES.INTEGRITY, message);
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/**
 * Strip `user:password@` and the query string from a URL before it reaches a message or a log.
 * Returns the input unchanged if it does not parse as a URL.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return url;
  }
}
