/**
 * The provider credential check's one call (issue 12, failure mode 3): `GET <baseUrl>/models` with
 * the provider's key, which costs no tokens. OpenAI (API reference, "List models"), Moonshot
 * (docs/providers/moonshot.md of OpenClaw: an OpenAI-compatible API) and OpenAI-compatible servers
 * serve it. What it saw becomes a {@link ProviderReading}; provider-verdict.ts judges it.
 *
 * The key goes to the provider's own base URL and nowhere else: redirects are not followed (a 3xx
 * is a reading of its own), and it never appears in a reading (the provider's error text is
 * scrubbed of it) or a log line.
 */
import { readCapped } from "../core/read-capped.ts";
import type { ProviderEndpoint } from "../supervisor/gateway-config.ts";

/** How long one check may take (ms): the issue asks for a bounded call. */
export const PROVIDER_CHECK_TIMEOUT_MS = 10_000;

/** The most of an answer's body read (bytes): a model list is a few KB to a few hundred. */
const MAX_BODY_BYTES = 1024 * 1024;

/** The most of a provider's error text kept (characters). */
const MAX_MESSAGE_CHARS = 160;

/**
 * What one check saw:
 * - `http`: an answer, with its status, the provider's error text (lenient: `error.message`,
 *   `error` as text, `message` or `detail`; scrubbed, cut to 160 characters), `Retry-After` in
 *   seconds (null when absent or a date we do not parse), and the number of models listed (null
 *   when the body has no `data` list);
 * - `network`: no answer (DNS, refused, reset, TLS), with the error's code or message;
 * - `timeout`: no answer within `afterMs`.
 */
export type ProviderReading =
  | { kind: "http"; status: number; message: string | null; retryAfterS: number | null; models: number | null }
  | { kind: "network"; error: string }
  | { kind: "timeout"; afterMs: number };

/** `fetch` as the check uses it (globalThis.fetch fits). */
export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

/** The list URL of a base URL (`https://api.moonshot.ai/v1` → `https://api.moonshot.ai/v1/models`). Pure. */
export function modelsUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/models`;
}

/**
 * `text` without `secret` and without anything shaped like an API key (`sk-...`, long tokens), so
 * a provider that echoes the key it refused ("Incorrect API key provided: sk-...") cannot put it
 * into /health, the status report or a log. Pure.
 */
export function scrub(text: string, secret: string): string {
  let out = secret.length >= 4 ? text.split(secret).join("<key>") : text;
  out = out.replace(/\b(?:sk|pk|ak|key)[-_][A-Za-z0-9_*.-]{6,}/gi, "<key>").replace(/\b[A-Za-z0-9_-]{32,}\b/g, "<key>");
  return out.replace(/\s+/g, " ").trim().slice(0, MAX_MESSAGE_CHARS);
}

/** The provider's own words from an error body (lenient: any of the usual shapes). Pure. */
export function errorText(body: unknown): string | null {
  if (typeof body === "string") return body.trim() === "" ? null : body;
  if (typeof body !== "object" || body === null) return null;
  const b = body as { error?: unknown; message?: unknown; detail?: unknown };
  if (typeof b.error === "object" && b.error !== null && typeof (b.error as { message?: unknown }).message === "string") return (b.error as { message: string }).message;
  for (const v of [b.error, b.message, b.detail]) if (typeof v === "string" && v.trim() !== "") return v;
  return null;
}

/** `Retry-After` as seconds (RFC 9110 10.2.3: delay-seconds; an HTTP date gives null). Pure. */
export function retryAfterSeconds(header: string | null): number | null {
  if (header === null || !/^\s*\d+\s*$/.test(header)) return null;
  return Number(header.trim());
}

/** The body as text, reading no further once MAX_BODY_BYTES have arrived. */
async function readBody(res: Response): Promise<string> {
  return Buffer.from((await readCapped(res.body, MAX_BODY_BYTES - 1)).bytes).toString("utf8");
}

/**
 * Check one provider's key. Never rejects.
 * @param timeoutMs the whole call's budget (ms; default {@link PROVIDER_CHECK_TIMEOUT_MS})
 */
export async function probeProvider(ep: ProviderEndpoint, fetchFn: FetchFn, timeoutMs = PROVIDER_CHECK_TIMEOUT_MS): Promise<ProviderReading> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetchFn(modelsUrl(ep.baseUrl), {
      method: "GET",
      headers: { authorization: `Bearer ${ep.apiKey}`, accept: "application/json" },
      redirect: "manual",
      signal,
    });
    const text = await readBody(res);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: the text itself is the provider's words
    }
    const data = (body as { data?: unknown } | null)?.data;
    const raw = res.ok ? null : errorText(body);
    return {
      kind: "http",
      status: res.status,
      message: raw === null ? null : scrub(raw, ep.apiKey),
      retryAfterS: retryAfterSeconds(res.headers.get("retry-after")),
      models: Array.isArray(data) ? data.length : null,
    };
  } catch (err) {
    if (signal.aborted) return { kind: "timeout", afterMs: timeoutMs };
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { kind: "network", error: scrub(e.cause?.code ?? e.cause?.message ?? e.message, ep.apiKey) };
  }
}
