/**
 * A turn's token usage, read from what the gateway reports. Pure.
 *
 * Source (openclaw 2026.9.6, observed 2026-11-30 with the mock model; docs/cli/agent.md): the final
 * `res` of the `agent` method carries `result.meta.agentMeta` with `provider` and `model` (the model
 * that answered: after a failover, the fallback; the failed attempts are listed in
 * `agentMeta.fallbackAttempts`) and `usage` `{input, output, cacheRead, cacheWrite, total}`, summed
 * over the run's model calls and already normalized by the gateway (OpenAI's `prompt_tokens`
 * includes cached tokens; the gateway's `input` does not). A session transcript's assistant
 * messages carry the same per model call: `usage` `{input, output, cacheRead, cacheWrite, ...}`,
 * `provider`, `model`.
 *
 * Lenient: an unknown shape, a missing or non-numeric count is never an error; with no count at
 * all there is no usage (undefined).
 */
import type { TurnUsage } from "../store/usage.ts";

export type { TurnUsage };

/** The four token kinds of {@link TurnUsage}, in the spelling of the metric label `kind`. */
export const TOKEN_KINDS = [
  ["input", "input"],
  ["output", "output"],
  ["cacheRead", "cache_read"],
  ["cacheWrite", "cache_write"],
] as const satisfies ReadonlyArray<readonly [keyof TurnUsage, string]>;

type Obj = Record<string, unknown>;

const asObj = (v: unknown): Obj | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined);

/**
 * The most tokens one count may hold: 1e9, far above any model's context (1-2 million tokens in
 * 2026) times the calls of one run, and low enough that a day's sums stay exact integers in
 * SQLite and JavaScript (below Number.MAX_SAFE_INTEGER, 9e15) and valid for the contract. A
 * gateway reporting more is capped here, never trusted to overflow a total.
 */
export const MAX_TOKEN_COUNT = 1_000_000_000;

/** `a + b`, capped at {@link MAX_TOKEN_COUNT}. */
const add = (a: number, b: number): number => Math.min(a + b, MAX_TOKEN_COUNT);

/** A token count: a finite number >= 0, truncated to a whole number and capped at {@link MAX_TOKEN_COUNT}; anything else undefined. */
function count(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.min(Math.trunc(v), MAX_TOKEN_COUNT) : undefined;
}

const name = (v: unknown): string | null => (typeof v === "string" && v.trim() !== "" ? v.slice(0, 256) : null);

/**
 * Usage from a gateway usage object (`{input, output, cacheRead, cacheWrite}`) and the answering
 * provider and model. Pure.
 * @returns undefined when `usage` is not an object or holds none of the four counts
 */
export function usageFrom(usage: unknown, provider: unknown, model: unknown): TurnUsage | undefined {
  const u = asObj(usage);
  if (!u) return undefined;
  const [input, output, cacheRead, cacheWrite] = [u.input, u.output, u.cacheRead, u.cacheWrite].map(count);
  if (input === undefined && output === undefined && cacheRead === undefined && cacheWrite === undefined) return undefined;
  return { provider: name(provider), model: name(model), input: input ?? 0, output: output ?? 0, cacheRead: cacheRead ?? 0, cacheWrite: cacheWrite ?? 0 };
}

/**
 * The usage of a final `agent` response: `result.meta.agentMeta.{usage, provider, model}`. Pure.
 * @returns undefined when the response carries none (see {@link usageFrom})
 */
export function agentUsage(res: unknown): TurnUsage | undefined {
  const meta = asObj(asObj(asObj(asObj(res)?.result)?.meta)?.agentMeta);
  return meta ? usageFrom(meta.usage, meta.provider, meta.model) : undefined;
}

/**
 * The usage of a turn read from its transcript: the sum over its assistant messages (one per model
 * call), named after the last message that names a provider and model (the one that answered). Pure.
 * @returns undefined when no message carries usage
 */
export function transcriptUsage(messages: readonly unknown[]): TurnUsage | undefined {
  let sum: TurnUsage | undefined;
  for (const m of messages) {
    const o = asObj(m);
    const u = o && usageFrom(o.usage, o.provider, o.model);
    if (!u) continue;
    sum = sum
      ? {
          provider: u.provider ?? sum.provider,
          model: u.model ?? sum.model,
          input: add(sum.input, u.input),
          output: add(sum.output, u.output),
          cacheRead: add(sum.cacheRead, u.cacheRead),
          cacheWrite: add(sum.cacheWrite, u.cacheWrite),
        }
      : u;
  }
  return sum;
}

/**
 * Tokens a turn counts toward the daily budget: input + output + cache write. Cache reads are
 * left out: providers bill them at a fraction of the input price (OpenAI, Anthropic, Moonshot:
 * 10-50 %), and a long conversation re-reads its whole prefix on every turn. Pure.
 */
export function budgetTokens(u: Pick<TurnUsage, "input" | "output" | "cacheWrite">): number {
  return u.input + u.output + u.cacheWrite;
}
