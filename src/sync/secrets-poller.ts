/**
 * Polls the control plane for provider secrets (conditional GET with the last ETag) and the
 * skills manifest, on an interval and on demand (SIGHUP), and hands verified changes to `apply`
 * (daemon/control-plane.ts: store them in 0600 files, drain, restart the gateway).
 *
 * Bad input never reaches the gateway: a secrets document naming no provider, a manifest that
 * cannot be written (skills-manifest.ts `verifySkillsManifest`), or a malformed response is logged
 * (without its content), reported as a problem (status `degraded`, its reason cut to fit the status
 * report) and the current configuration stays in force.
 */
import type { Logger } from "pino";
import type { Clock } from "../core/clock.ts";
import { backoffDelay } from "../core/backoff.ts";
import { verifySkillsManifest } from "./skills-manifest.ts";
import type { Secrets, SkillsManifest } from "./contract.ts";

/** The status report's `reason` holds at most this many characters (contract.ts statusReportSchema). */
export const MAX_PROBLEM_CHARS = 1024;

/** `reason` cut to {@link MAX_PROBLEM_CHARS}, marked with "…" when cut. Pure. */
function clip(reason: string): string {
  return reason.length > MAX_PROBLEM_CHARS ? `${reason.slice(0, MAX_PROBLEM_CHARS - 1)}…` : reason;
}

/** The two reads this needs from the control-plane client. */
export type SecretsSource = {
  getSecrets(etag?: string): Promise<{ kind: "unchanged" } | { kind: "changed"; secrets: Secrets; etag: string } | { kind: "none" }>;
  getSkills(): Promise<SkillsManifest>;
};

/** A verified change to apply; absent fields did not change. */
export type SecretsChange = { secrets?: Secrets; skills?: SkillsManifest };

/** Options for {@link SecretsPoller}. Times are ms. */
export type SecretsPollerOptions = {
  source: SecretsSource;
  clock: Clock;
  random: () => number;
  log: Logger;
  intervalMs: number;
  backoffMaxMs: number;
  /** Versions already applied (from the stored files), so a restart does not re-apply them. */
  current: { secretsVersion?: string | undefined; skillsVersion?: string | undefined };
  /** Apply a change; throwing keeps the versions unapplied so the next poll tries again. */
  apply: (change: SecretsChange) => Promise<void>;
  /** A problem to report (null when resolved): "no secrets", a rejected manifest, an unreachable control plane. */
  onProblem: (reason: string | null) => void;
};

/** The secrets and skills poll loop. */
export class SecretsPoller {
  readonly #o: SecretsPollerOptions;
  #secretsVersion: string | undefined;
  #skillsVersion: string | undefined;
  #wake: (() => void) | undefined;
  #failures = 0;

  constructor(opts: SecretsPollerOptions) {
    this.#o = opts;
    this.#secretsVersion = opts.current.secretsVersion;
    this.#skillsVersion = opts.current.skillsVersion;
  }

  /** Poll now (on demand, e.g. SIGHUP). */
  refresh(): void {
    this.#wake?.();
  }

  /** Poll until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs, backoffMaxMs, random } = this.#o;
    while (!signal.aborted) {
      const ok = await this.pollOnce();
      this.#failures = ok ? 0 : this.#failures + 1;
      const delay = ok ? intervalMs : Math.min(intervalMs, backoffDelay(this.#failures - 1, { initialMs: 1000, maxMs: backoffMaxMs }, random));
      const wake = new AbortController();
      this.#wake = () => wake.abort();
      await clock.sleep(delay, AbortSignal.any([signal, wake.signal]));
      this.#wake = undefined;
    }
  }

  /**
   * One poll of secrets and skills; applies what changed.
   * @returns false when the control plane could not be read or the change could not be applied
   */
  async pollOnce(): Promise<boolean> {
    const { source, log, onProblem } = this.#o;
    const change: SecretsChange = {};
    const problems: string[] = [];
    try {
      const res = await source.getSecrets(this.#secretsVersion === undefined ? undefined : `"${this.#secretsVersion}"`);
      if (res.kind === "none") {
        problems.push("the control plane has no secrets for this runtime");
      } else if (res.kind === "changed" && res.secrets.version !== this.#secretsVersion) {
        const p = res.secrets.providers;
        if (!p.moonshot && !p.openai && !p.compat) problems.push(`secrets version ${res.secrets.version} names no model provider; keeping the current keys`);
        else change.secrets = res.secrets;
      }
      const skills = await source.getSkills();
      if (skills.version !== this.#skillsVersion) {
        const bad = verifySkillsManifest(skills);
        if (bad.length > 0) problems.push(`skills manifest ${skills.version} rejected: ${bad.join("; ")}`);
        else change.skills = skills;
      }
    } catch (err) {
      log.warn({ code: (err as { code?: string }).code, err: (err as Error).message }, "could not read secrets or skills from the control plane");
      onProblem(clip(`cannot read secrets/skills: ${(err as Error).message}`));
      return false;
    }
    if (change.secrets || change.skills) {
      try {
        await this.#o.apply(change);
        if (change.secrets) this.#secretsVersion = change.secrets.version;
        if (change.skills) this.#skillsVersion = change.skills.version;
        log.info({ secretsVersion: change.secrets?.version, skillsVersion: change.skills?.version }, "applied control-plane configuration");
      } catch (err) {
        log.error({ err }, "could not apply control-plane configuration; will retry");
        onProblem(clip(`cannot apply secrets/skills: ${(err as Error).message}`));
        return false;
      }
    }
    for (const p of problems) log.error({ problem: p }, "control-plane configuration problem");
    onProblem(problems.length > 0 ? clip(problems.join("; ")) : null);
    return true;
  }
}
