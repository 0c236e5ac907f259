/**
 * Pure verdicts of the provider credential check (issue 12, failure mode 3): what one
 * `GET <baseUrl>/models` answer means ({@link readingVerdict}), what a failed turn says about a
 * provider ({@link turnEvidence}), and the `/health` check of every provider together
 * ({@link providersCheck}). Reasons are plain words led by the HTTP status where there is one,
 * e.g. `401 invalid key (Incorrect API key provided.)`.
 */
import { classifyTurnError } from "../turns/error-class.ts";
import type { ProviderReading } from "./provider-probe.ts";
import type { WatchdogCheck } from "./watchdog.ts";

/**
 * A verdict on one provider: `pass`, `warn` or `fail`; the reason in plain words (no provider
 * name; the check adds it); `degraded` when the runtime serves worse for it (the status report then
 * says so: a refused key, a quota, a provider out of reach; not a server that lists no models).
 */
export type ProviderVerdict = { status: "pass" | "warn" | "fail"; reason: string; degraded: boolean };

const withText = (head: string, message: string | null) => (message ? `${head} (${message})` : head);

/**
 * The verdict on one check's reading. Pure.
 * - 2xx: pass. 401: fail "invalid key"; 403: fail "key refused" (a key without access, or a proxy
 *   refusing it: the fleet's incident); 402: fail (billing).
 * - 429: warn (rate limit or quota, with `Retry-After`); 5xx, other 4xx, no answer, a timeout: warn
 *   (the provider is in trouble or out of reach, not the key); all of these degrade the runtime.
 * - 404/405: warn, not degrading: the server lists no models, so the key is checked by turns only.
 * - 3xx: warn, not degrading: the key is not sent on to another address, so it is unchecked.
 */
export function readingVerdict(r: ProviderReading): ProviderVerdict {
  if (r.kind === "timeout") return { status: "warn", reason: `no answer within ${r.afterMs} ms`, degraded: true };
  if (r.kind === "network") return { status: "warn", reason: `unreachable (${r.error})`, degraded: true };
  const s = r.status;
  if (s >= 200 && s < 300) return { status: "pass", reason: r.models === null ? `${s} key accepted` : `${s} key accepted (${r.models} models listed)`, degraded: false };
  if (s === 401) return { status: "fail", reason: withText("401 invalid key", r.message), degraded: true };
  if (s === 403) return { status: "fail", reason: withText("403 key refused", r.message), degraded: true };
  if (s === 402) return { status: "fail", reason: withText("402 billing: payment required", r.message), degraded: true };
  if (s === 429) {
    const after = r.retryAfterS === null ? "" : `, retry after ${r.retryAfterS} s`;
    return { status: "warn", reason: withText(`429 rate limited or out of quota${after}`, r.message), degraded: true };
  }
  if (s === 404 || s === 405) return { status: "warn", reason: `${s}: it lists no models, so the key is checked by turns only`, degraded: false };
  if (s >= 300 && s < 400) return { status: "warn", reason: `${s} redirect: the key is not sent to another address, so it is unchecked`, degraded: false };
  if (s >= 500) return { status: "warn", reason: withText(`${s} provider error`, r.message), degraded: true };
  return { status: "warn", reason: withText(`${s} unexpected answer`, r.message), degraded: true };
}

/** The most of a turn's error kept in a reason (characters). */
const MAX_TURN_TEXT = 160;

/**
 * What a failed turn says about a provider, from its error (turns/error-class.ts): `auth` and
 * `cooldown` (the gateway itself refuses to use the key after an auth or billing failure: no turn
 * can run) fail; `quota` and `network` warn; any other class says nothing about credentials
 * (undefined). Pure.
 * @param code the turn's error code; @param message its error message (the gateway's words)
 */
export function turnEvidence(code: string | null, message: string | null): ProviderVerdict | undefined {
  const cls = classifyTurnError(code, message);
  // The gateway's words, without a leading decoration ("⚠️ compat/echo-1 request failed ...").
  const text = (message ?? "").replace(/\s+/g, " ").trim().replace(/^[^\p{L}\p{N}]+/u, "").slice(0, MAX_TURN_TEXT);
  const status = /\bHTTP (\d{3})\b/.exec(text)?.[1] ?? /\b(401|403|429)\b/.exec(text)?.[1];
  const lead = status ? `${status} ` : "";
  if (cls === "auth") return { status: "fail", reason: `${lead}turns refused: ${text}`, degraded: true };
  if (cls === "cooldown") {
    const wait = /retry after about ([^,.;]+)/i.exec(text)?.[1];
    return { status: "fail", reason: `the gateway holds the key in cooldown after an auth/billing failure${wait ? ` (retry after about ${wait})` : ""}`, degraded: true };
  }
  if (cls === "quota") return { status: "warn", reason: `${lead}turns rate limited or out of quota: ${text}`, degraded: true };
  if (cls === "network") return { status: "warn", reason: `turns cannot reach it: ${text}`, degraded: true };
  return undefined;
}

/**
 * The provider a failed turn is about: the one its message names (`provider "compat"`, or a model
 * ref `compat/...`), else the primary (the gateway's error for a refused key names none). Pure.
 * @param providers configured provider ids, primary first
 */
export function turnProvider(message: string | null, providers: readonly string[]): string | undefined {
  const text = message ?? "";
  const named = /provider "([^"]+)"/.exec(text)?.[1];
  if (named !== undefined && providers.includes(named)) return named;
  return providers.find((p) => text.includes(`${p}/`)) ?? providers[0];
}

/** One provider's state: the last check's verdict and a newer failed turn's evidence, each with its time (epoch ms). */
export type ProviderState = {
  provider: string;
  check?: { verdict: ProviderVerdict; at: number };
  turn?: { verdict: ProviderVerdict; at: number };
};

const RANK = { pass: 0, warn: 1, fail: 2 } as const;

/**
 * One provider's verdict: the worse of its check and its turn evidence, the check's on a tie (it
 * names the provider's own status); undefined before either. Pure.
 */
export function providerVerdict(st: ProviderState): ProviderVerdict | undefined {
  const c = st.check?.verdict;
  const t = st.turn?.verdict;
  if (!c) return t;
  if (!t) return c;
  return RANK[t.status] > RANK[c.status] ? t : c;
}

/**
 * The `provider:auth` check of `/health` over every provider (undefined before any verdict): the
 * worst status; `output` the non-passing providers as `provider <id>: <reason>`; `degradedReason`
 * those that degrade the runtime, the same way (the status report's reason). Pure.
 */
export function providersCheck(states: readonly ProviderState[]): WatchdogCheck | undefined {
  const judged = states.flatMap((st) => {
    const v = providerVerdict(st);
    return v ? [{ st, v }] : [];
  });
  if (judged.length === 0) return undefined;
  const status = judged.reduce<ProviderVerdict["status"]>((w, { v }) => (RANK[v.status] > RANK[w] ? v.status : w), "pass");
  const line = ({ st, v }: (typeof judged)[number]) => `provider ${st.provider}: ${v.reason}`;
  const bad = judged.filter(({ v }) => v.status !== "pass");
  const degraded = judged.filter(({ v }) => v.degraded);
  return {
    key: "provider:auth",
    status,
    output: bad.length > 0 ? bad.map(line).join("; ") : null,
    componentType: "component",
    observedValue: bad.length,
    observedUnit: "providers not passing",
    details: {
      providers: Object.fromEntries(
        judged.map(({ st, v }) => [st.provider, { status: v.status, reason: v.reason, checkedAt: st.check?.at ?? null, turnFailedAt: st.turn?.at ?? null }]),
      ),
    },
    ...(degraded.length > 0 ? { degradedReason: degraded.map(line).join("; ") } : {}),
  };
}
