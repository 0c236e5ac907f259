/**
 * Which provider keys the gateway last started with, as fingerprints, so that the next start can
 * tell which keys were rotated since (from the control plane, or in the settings across a daemon
 * restart) and clear the gateway's stale cooldown for those providers only (auth-cooldown.ts).
 * An unchanged key keeps its cooldown: upstream's backoff is right about a key that was refused.
 *
 * Kept in the daemon's secrets directory (0600, never in the gateway's tree, SQLite or a log) as
 * `{"version":1,"providers":{"<id>":"<fingerprint>"}}`; a fingerprint is the first 16 hex
 * characters of the key's SHA-256, which tells keys apart without holding them.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { writeFileAtomic } from "../core/fs-atomic.ts";
import type { ProviderEndpoint } from "./gateway-config.ts";

/** provider id → fingerprint. */
export type KeyPrints = Record<string, string>;

const fileSchema = z.object({ version: z.literal(1), providers: z.record(z.string(), z.string()) });

/** The fingerprint of a key (see the module comment). Pure. */
export function keyPrint(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("hex").slice(0, 16);
}

/** Fingerprints of the endpoints' keys. Pure. */
export function keyPrints(endpoints: readonly ProviderEndpoint[]): KeyPrints {
  return Object.fromEntries(endpoints.map((e) => [e.provider, keyPrint(e.apiKey)]));
}

/**
 * The providers whose key differs from the one last started with. Pure. Without a record (first
 * start, or a daemon from before this file), every provider counts as rotated: clearing a cooldown
 * that is not there costs nothing.
 */
export function rotatedProviders(last: KeyPrints | undefined, now: KeyPrints): string[] {
  return Object.keys(now).filter((p) => last?.[p] !== now[p]);
}

/**
 * The record to keep after a start that tried to clear the cooldowns of `rotated`: the keys it
 * started with, except that, when the clearing failed, a rotated provider keeps its old
 * fingerprint (or none), so that the next start tries again. Pure.
 */
export function printsAfterStart(last: KeyPrints | undefined, now: KeyPrints, rotated: readonly string[], cleared: boolean): KeyPrints {
  if (cleared) return { ...now };
  const out: KeyPrints = { ...now };
  for (const p of rotated) {
    const old = last?.[p];
    if (old === undefined) delete out[p];
    else out[p] = old;
  }
  return out;
}

/** Read the record; undefined when missing or unreadable (then every key counts as rotated). */
export async function loadKeyPrints(path: string): Promise<KeyPrints | undefined> {
  try {
    const parsed = fileSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
    return parsed.success ? parsed.data.providers : undefined;
  } catch {
    return undefined;
  }
}

/** Store the record atomically, mode 0600. @throws fs errors (ENOSPC) */
export async function storeKeyPrints(path: string, prints: KeyPrints): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify({ version: 1, providers: prints })}\n`, 0o600);
}
