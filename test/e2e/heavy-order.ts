/**
 * The order in which vitest starts the test files (vitest.config.ts's sequencer), so that the
 * chain of files holding the heavy lock (heavy-lock.ts) never waits behind a light file:
 *
 * 1. the droplet test (a container under systemd-nspawn, ~10 minutes, mostly waiting on systemd
 *    and cloud-init), so it runs beside everything else instead of after it;
 * 2. the `shared` heavy files: the first ones run beside the droplet test on the other worker,
 *    the rest two at a time once it is done;
 * 3. the `exclusive` heavy files, each followed by an equal share of the light files: while one
 *    runs alone, the other worker goes through its share, then takes the next exclusive file and
 *    waits for the lock, so the light files fill the gaps instead of running after the chain.
 *
 * Before (droplet first, then vitest's own order) the light files ran wherever they fell,
 * between heavy files on the one worker left beside the droplet test, each a delay of the chain.
 * Pure: no vitest import (the config loads it).
 */

/** How a heavy file holds the lock (heavy-lock.ts). */
export type HeavyLockMode = "exclusive" | "shared";

/** What a test file is, for the order. */
export type FileKind = "droplet" | HeavyLockMode | "light";

/**
 * The mode a test file's source asks for (a top-level `await holdHeavyLock()` or
 * `await holdHeavyLock("shared")`); undefined for a file that does not take the lock.
 */
export function heavyLockMode(source: string): HeavyLockMode | undefined {
  const m = /^await holdHeavyLock\((?:"(exclusive|shared)")?\);/m.exec(source);
  if (!m) return undefined;
  return m[1] === "shared" ? "shared" : "exclusive";
}

/**
 * `files` (in vitest's own order, kept within each kind) reordered as the module comment says:
 * droplet, shared, then each exclusive file followed by its share of the light files (the first
 * shares one larger when they do not divide evenly); with no exclusive file the light files come last.
 */
export function heavyOrder<T>(files: readonly T[], kindOf: (f: T) => FileKind): T[] {
  const of = (k: FileKind) => files.filter((f) => kindOf(f) === k);
  const exclusive = of("exclusive");
  const light = of("light");
  const out = [...of("droplet"), ...of("shared")];
  let next = 0;
  exclusive.forEach((f, i) => {
    const share = Math.ceil((light.length - next) / (exclusive.length - i));
    out.push(f, ...light.slice(next, next + share));
    next += share;
  });
  out.push(...light.slice(next));
  return out;
}
