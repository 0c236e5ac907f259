/**
 * Pure decisions of the secrets poller (secrets-poller.ts) about announced versions (issue 15):
 * what a claim answer's versions ask to fetch, and when the next scheduled poll is due. No timers,
 * no I/O: callers pass monotonic times (ms).
 */
import type { AnnouncedVersions } from "./client.ts";

/** Which documents to fetch: secrets (GET /secrets), the skills manifest (GET /skills), or both. */
export type Wanted = { secrets: boolean; skills: boolean };

/** Fetch both (a scheduled poll, SIGHUP, the first poll). */
export const BOTH: Wanted = { secrets: true, skills: true };

/**
 * The versions last fetched from the control plane, applied or refused: secrets `null` when it
 * had none (404 NO_SECRETS); `undefined` before the first fetch.
 */
export type Seen = { secrets: string | null | undefined; skills: string | undefined };

/**
 * What an announcement asks to fetch: each document whose announced version differs from the
 * one last fetched. A version not announced asks nothing. Pure.
 */
export function announcedFetch(a: AnnouncedVersions, seen: Seen): Wanted {
  return {
    secrets: a.secretsVersion !== undefined && a.secretsVersion !== seen.secrets,
    skills: a.skillsVersion !== undefined && a.skillsVersion !== seen.skills,
  };
}

/** True when a claim answer announced both versions: the control plane keeps the runtime informed. */
export function announcesBoth(a: AnnouncedVersions): boolean {
  return a.secretsVersion !== undefined && a.skillsVersion !== undefined;
}

/** Where the announcements stand, as the poller tracks them (monotonic ms). */
export type AnnouncementState = {
  /** The latest claim answer announced both versions (a control plane that does not announce them, or rolled back: false). */
  announcing: boolean;
  /** When that answer arrived; undefined before any. */
  announcedAt: number | undefined;
  /** A claim is parked at the control plane now: it answers at once when a version changes. */
  claimInFlight: boolean;
};

/**
 * When the next scheduled poll is due (monotonic ms; Infinity: not while things stay as they
 * are). `intervalMs` after the last poll (SECRETS_POLL_MS, as before issue 15), unless the control
 * plane announces versions: then no poll while a claim is parked there (it would answer at once on
 * a change), and otherwise not before `intervalMs` after the latest announcement. So a runtime that
 * stops claiming (gateway not ready, every slot busy) polls again within `intervalMs`. Pure.
 */
export function nextPollAt(polledAt: number, intervalMs: number, a: AnnouncementState): number {
  const scheduled = polledAt + intervalMs;
  if (!a.announcing || a.announcedAt === undefined) return scheduled;
  if (a.claimInFlight) return Number.POSITIVE_INFINITY;
  return Math.max(scheduled, a.announcedAt + intervalMs);
}
