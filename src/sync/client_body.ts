/**
 * Reading a control-plane answer's body for the client (client.ts): bounded streaming, UTF-8 JSON
 * parsing that never quotes the body, and error descriptions that name paths, never values.
 */
import type { z } from "zod";
import { readCapped } from "../core/read-capped.ts";

/** Most zod issues named in one contract error message. */
const MAX_ISSUES_IN_MESSAGE = 8;

/**
 * Read a body as a stream, at most `limit` bytes. Past the limit the stream is cancelled and the
 * request aborted, so a huge body is never buffered whole.
 */
export async function readBounded(res: Response, limit: number, ac: AbortController): Promise<Uint8Array | "too-large"> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await res.body?.cancel().catch(() => {});
    ac.abort();
    return "too-large";
  }
  const { bytes, over } = await readCapped(res.body, limit);
  if (over) {
    ac.abort();
    return "too-large";
  }
  return bytes;
}

export const NOT_JSON: unique symbol = Symbol("not-json");

/** Parse UTF-8 JSON; NOT_JSON on any failure (the parser's message quotes the body, so it is dropped). */
export function tryJson(raw: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    return NOT_JSON;
  }
}

/** Issue paths and kinds, never the offending values (a body may hold secrets). */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const parts = issues.slice(0, MAX_ISSUES_IN_MESSAGE).map((i) => {
    const path = i.path.length === 0 ? "(root)" : i.path.map(String).join(".");
    const keys = i.code === "unrecognized_keys" ? ` ${i.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(", ")}` : "";
    return `${path}: ${i.code}${keys}`;
  });
  const more = issues.length > MAX_ISSUES_IN_MESSAGE ? ` (and ${issues.length - MAX_ISSUES_IN_MESSAGE} more)` : "";
  return parts.join("; ") + more;
}

/** The useful part of a fetch failure: undici wraps the socket error (ECONNREFUSED, ...) as `cause`. */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.code === "string") return typeof cause.message === "string" ? `${cause.code} (${cause.message})` : cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}
