/**
 * The daily token budget (issue 13): how many tokens the turns of one UTC day may use
 * (TOKEN_BUDGET_DAILY), where `/health` starts to warn (TOKEN_BUDGET_WARN_PERCENT) and what
 * happens at the limit (TOKEN_BUDGET_ACTION): `warn` only says so (`/health` fails, the status
 * report says `exceeded`), `refuse` also refuses new local turns (HTTP 429 ERR_BUDGET_EXCEEDED
 * until the next UTC day). Central turns are never refused here: the control plane, which sees the
 * budget in the status report, decides about them.
 *
 * Tokens counted: input + output + cache write of every turn that finished that day (turns/usage.ts
 * `budgetTokens`, kept per day by SQLite, store/usage.ts). {@link budgetVerdict} is the pure
 * decision; {@link TokenBudget} reads the day's total from the store.
 */
import type { UsageStore } from "../store/usage.ts";
import { budgetTokens } from "./usage.ts";

/** What happens at the limit. */
export type BudgetAction = "warn" | "refuse";

/** The budget settings. `dailyTokens` 0 = no budget; `warnPercent` 1-100 of it. */
export type BudgetPolicy = { dailyTokens: number; warnPercent: number; action: BudgetAction };

/** `ok` below the warning threshold, `warn` from it, `exceeded` from the limit. */
export type BudgetState = "ok" | "warn" | "exceeded";

/**
 * The budget now: `limit` and `warnAt` (tokens), `used` (tokens counted today), `state`, the
 * `action` at the limit, and `resetsAt` (epoch ms of the next UTC midnight, when `used` starts
 * again from 0).
 */
export type BudgetVerdict = { limit: number; warnAt: number; used: number; state: BudgetState; action: BudgetAction; resetsAt: number };

const DAY_MS = 86_400_000;

/** Epoch ms of the first UTC midnight after `nowMs`. Pure. */
export function nextUtcMidnight(nowMs: number): number {
  return (Math.floor(nowMs / DAY_MS) + 1) * DAY_MS;
}

/**
 * The budget's state given the tokens used today. Pure.
 * @returns undefined when there is no budget (`dailyTokens` 0)
 */
export function budgetVerdict(policy: BudgetPolicy, used: number, nowMs: number): BudgetVerdict | undefined {
  const limit = policy.dailyTokens;
  if (!(limit > 0)) return undefined;
  const warnAt = Math.min(limit, Math.max(1, Math.ceil((limit * policy.warnPercent) / 100)));
  const state: BudgetState = used >= limit ? "exceeded" : used >= warnAt ? "warn" : "ok";
  return { limit, warnAt, used, state, action: policy.action, resetsAt: nextUtcMidnight(nowMs) };
}

/** Whole seconds from `nowMs` until the budget resets (at least 1): the `Retry-After` of a refusal. Pure. */
export function secondsUntilReset(v: Pick<BudgetVerdict, "resetsAt">, nowMs: number): number {
  return Math.max(1, Math.ceil((v.resetsAt - nowMs) / 1000));
}

/** The budget over the store's day totals (see the module comment). */
export class TokenBudget {
  readonly #usage: Pick<UsageStore, "dayOf">;
  readonly #policy: BudgetPolicy;
  readonly #now: () => number;

  constructor(usage: Pick<UsageStore, "dayOf">, policy: BudgetPolicy, now: () => number) {
    this.#usage = usage;
    this.#policy = policy;
    this.#now = now;
  }

  /** True when a budget is set (TOKEN_BUDGET_DAILY > 0). */
  get enabled(): boolean {
    return this.#policy.dailyTokens > 0;
  }

  /** The settings. */
  get policy(): BudgetPolicy {
    return this.#policy;
  }

  /** Tokens counted toward today's (UTC) budget. @throws SqliteError when the store cannot be read */
  usedToday(): number {
    return budgetTokens(this.#usage.dayOf(this.#now()));
  }

  /**
   * The verdict now; undefined without a budget (the store is then not read).
   * @throws SqliteError when the store cannot be read
   */
  verdict(): BudgetVerdict | undefined {
    if (!this.enabled) return undefined;
    const now = this.#now();
    return budgetVerdict(this.#policy, budgetTokens(this.#usage.dayOf(now)), now);
  }

  /** True when new local turns are to be refused now (action `refuse` and the limit reached). */
  refusing(v: BudgetVerdict | undefined = this.verdict()): boolean {
    return v !== undefined && v.action === "refuse" && v.state === "exceeded";
  }
}
