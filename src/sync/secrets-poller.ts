/**
 * Polls the control plane for provider secrets (conditional GET with the last ETag) and the
 * skills manifest, on an interval, on demand (SIGHUP) and when a claim answer announces a version
 * it has not fetched (issue 15), and hands verified changes to `apply`
 * (daemon/control-plane.ts: store them in 0600 files, drain, restart the gateway).
 *
 * Bad input never reaches the gateway: a secrets document naming no provider, a manifest that
 * cannot be written (skills-manifest.ts `verifySkillsManifest`), or a malformed response is logged
 * (without its content), reported as a problem (status `degraded`, its reason cut to fit the status
 * report) and the current configuration stays in force.
 */
import type { Logger } from "pino";
import type { AuditInput, AuditLog } from "../core/audit.ts";
import type { Clock } from "../core/clock.ts";
import { backoffDelay } from "../core/backoff.ts";
import { verifySkillsManifest } from "./skills-manifest.ts";
import type { AnnouncedVersions } from "./client.ts";
import type { Secrets, SkillsManifest } from "./contract.ts";
import { announcedFetch, announcesBoth, BOTH, nextPollAt, type AnnouncementState, type Seen, type Wanted } from "./secrets-schedule.ts";
import type { AnnouncementSink } from "./worker_context.ts";

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
  /**
   * Apply a change; throwing keeps the versions unapplied so the next poll tries again. Call
   * `stored` once the change is stored and before acting on it (a restart), so its audit entries
   * come before the restart's; without the call they are recorded when `apply` resolves.
   */
  apply: (change: SecretsChange, stored: () => void) => Promise<void>;
  /** A problem to report (null when resolved): "no secrets", a rejected manifest, an unreachable control plane. */
  onProblem: (reason: string | null) => void;
  /**
   * The audit trail: versions applied (`secrets.apply`, `skills.apply`) and refused
   * (`secrets.refuse`, `skills.refuse`, once per version), by the control plane. Default: none.
   */
  audit?: AuditLog;
};

/**
 * The secrets and skills poll loop. With a control plane that announces the versions on its claim
 * answers (issue 15), the sync worker's claim loop feeds it through {@link AnnouncementSink}: a
 * changed version is fetched at once, and the scheduled poll waits while announcements keep the
 * copy current (secrets-schedule.ts {@link nextPollAt}).
 */
export class SecretsPoller implements AnnouncementSink {
  readonly #o: SecretsPollerOptions;
  #secretsVersion: string | undefined;
  #skillsVersion: string | undefined;
  #wake: (() => void) | undefined;
  #failures = 0;
  /** Versions already recorded as refused (`secrets:<v>`, `skills:<v>`), so a refusal is recorded once, not at every poll. */
  readonly #refused = new Set<string>();
  /** Versions last fetched (applied or refused), to tell an announced change from one already seen. */
  readonly #seen: Seen;
  /** The latest problem of each document, so fetching one keeps the other's. */
  readonly #problems: { secrets: string[]; skills: string[] } = { secrets: [], skills: [] };
  readonly #announcements: AnnouncementState = { announcing: false, announcedAt: undefined, claimInFlight: false };
  /** Fetches asked for by refresh() or an announcement, done at the loop's next turn. */
  #wanted: Wanted | undefined;

  constructor(opts: SecretsPollerOptions) {
    this.#o = opts;
    this.#secretsVersion = opts.current.secretsVersion;
    this.#skillsVersion = opts.current.skillsVersion;
    this.#seen = { secrets: this.#secretsVersion, skills: this.#skillsVersion };
  }

  /** Poll now (on demand, e.g. SIGHUP): secrets and skills. */
  refresh(): void {
    this.#want(BOTH);
  }

  /** A claim is about to be sent (AnnouncementSink). */
  claimStarted(): void {
    this.#announcements.claimInFlight = true;
  }

  /**
   * A claim ended (AnnouncementSink): with its answer's announced versions, or undefined when it
   * failed. A version that differs from the one last fetched is fetched now.
   */
  claimEnded(announced: AnnouncedVersions | undefined): void {
    const a = this.#announcements;
    a.claimInFlight = false;
    if (announced !== undefined) {
      a.announcing = announcesBoth(announced);
      if (a.announcing) a.announcedAt = this.#o.clock.monotonic();
      const wanted = announcedFetch(announced, this.#seen);
      if (wanted.secrets || wanted.skills) return this.#want(wanted);
    }
    // The scheduled poll's time may have moved: let the loop look again.
    this.#wake?.();
  }

  #want(w: Wanted): void {
    const had = this.#wanted;
    this.#wanted = had === undefined ? w : { secrets: had.secrets || w.secrets, skills: had.skills || w.skills };
    this.#wake?.();
  }

  /** Poll until `signal` aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs, backoffMaxMs, random } = this.#o;
    let what: Wanted = BOTH;
    while (!signal.aborted) {
      const ok = await this.pollOnce(what);
      this.#failures = ok ? 0 : this.#failures + 1;
      const polledAt = clock.monotonic();
      const retryAt = ok ? undefined : polledAt + Math.min(intervalMs, backoffDelay(this.#failures - 1, { initialMs: 1000, maxMs: backoffMaxMs }, random));
      for (;;) {
        if (signal.aborted) return;
        if (this.#wanted !== undefined) {
          what = this.#wanted;
          this.#wanted = undefined;
          break;
        }
        const dueAt = retryAt ?? nextPollAt(polledAt, intervalMs, this.#announcements);
        const now = clock.monotonic();
        if (now >= dueAt) {
          what = BOTH;
          break;
        }
        // Capped: a parked claim defers the poll without a deadline; its end wakes this loop.
        const wake = new AbortController();
        this.#wake = () => wake.abort();
        await clock.sleep(Math.min(dueAt - now, intervalMs), AbortSignal.any([signal, wake.signal]));
        this.#wake = undefined;
      }
    }
  }

  /**
   * One poll of secrets and skills (or of those `what` names); applies what changed.
   * @returns false when the control plane could not be read or the change could not be applied
   */
  async pollOnce(what: Wanted = BOTH): Promise<boolean> {
    const { source, log, onProblem } = this.#o;
    const change: SecretsChange = {};
    const problems = this.#problems;
    try {
      if (what.secrets) {
        const res = await source.getSecrets(this.#secretsVersion === undefined ? undefined : `"${this.#secretsVersion}"`);
        problems.secrets = [];
        this.#seen.secrets = res.kind === "none" ? null : res.kind === "changed" ? res.secrets.version : this.#secretsVersion;
        if (res.kind === "none") {
          problems.secrets.push("the control plane has no secrets for this runtime");
        } else if (res.kind === "changed" && res.secrets.version !== this.#secretsVersion) {
          const p = res.secrets.providers;
          if (!p.moonshot && !p.openai && !p.compat) {
            problems.secrets.push(`secrets version ${res.secrets.version} names no model provider; keeping the current keys`);
            this.#refuse("secrets", res.secrets.version, "names no model provider; the current keys stay in force", {});
          } else change.secrets = res.secrets;
        }
      }
      if (what.skills) {
        const skills = await source.getSkills();
        problems.skills = [];
        this.#seen.skills = skills.version;
        if (skills.version !== this.#skillsVersion) {
          const bad = verifySkillsManifest(skills);
          if (bad.length > 0) {
            problems.skills.push(`skills manifest ${skills.version} rejected: ${bad.join("; ")}`);
            this.#refuse("skills", skills.version, "the manifest cannot be written; the current skills stay in force", { problems: bad.slice(0, 5).map((b) => b.slice(0, 200)), count: bad.length });
          } else change.skills = skills;
        }
      }
    } catch (err) {
      log.warn({ code: (err as { code?: string }).code, err: (err as Error).message }, "could not read secrets or skills from the control plane");
      onProblem(clip(`cannot read secrets/skills: ${(err as Error).message}`));
      return false;
    }
    if (change.secrets || change.skills) {
      try {
        let recorded = false;
        const stored = () => {
          if (recorded) return;
          recorded = true;
          if (change.secrets) this.#applied("secrets", change.secrets.version, this.#secretsVersion, { providers: Object.keys(change.secrets.providers).sort() });
          if (change.skills) this.#applied("skills", change.skills.version, this.#skillsVersion, { skills: change.skills.skills.map((k) => k.name).slice(0, 50), count: change.skills.skills.length });
        };
        await this.#o.apply(change, stored);
        stored();
        if (change.secrets) this.#secretsVersion = change.secrets.version;
        if (change.skills) this.#skillsVersion = change.skills.version;
        log.info({ secretsVersion: change.secrets?.version, skillsVersion: change.skills?.version }, "applied control-plane configuration");
      } catch (err) {
        log.error({ err }, "could not apply control-plane configuration; will retry");
        const why = `could not be stored: ${(err as { code?: string }).code ?? (err as Error).message}; retried at the next poll`;
        if (change.secrets) this.#refuse("secrets", change.secrets.version, why, {});
        if (change.skills) this.#refuse("skills", change.skills.version, why, {});
        onProblem(clip(`cannot apply secrets/skills: ${(err as Error).message}`));
        return false;
      }
    }
    const all = [...problems.secrets, ...problems.skills];
    for (const p of all) log.error({ problem: p }, "control-plane configuration problem");
    onProblem(all.length > 0 ? clip(all.join("; ")) : null);
    return true;
  }

  /** Record `what` version `version` applied (from `previous`). */
  #applied(what: "secrets" | "skills", version: string, previous: string | undefined, detail: Record<string, unknown>): void {
    this.#refused.delete(`${what}:${version}`);
    this.#o.audit?.record({ actor: "control-plane", action: `${what}.apply`, cause: `${what} version ${version} from the control plane`, detail: { version, previousVersion: previous ?? null, ...detail } });
  }

  /** Record `what` version `version` refused, once per version. */
  #refuse(what: "secrets" | "skills", version: string, why: string, detail: Record<string, unknown>): void {
    if (this.#refused.has(`${what}:${version}`)) return;
    this.#refused.add(`${what}:${version}`);
    const entry: AuditInput = { actor: "control-plane", action: `${what}.refuse`, cause: `${what} version ${version} ${why}`, detail: { version, ...detail } };
    this.#o.audit?.record(entry);
  }
}
