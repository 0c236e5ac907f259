/**
 * The MEMORY.md watchdog: once a minute, MEMORY.md of the agent workspace against the gateway's
 * bootstrap budget (workspace/decay-budget.ts has the measure and the verdict). A file over the
 * budget warns in /health; nothing is changed (memory decay distills, on its own schedule).
 */
import type { Clock } from "../core/clock.ts";
import { readMemoryBudget, type MemoryBudgetCheck } from "../workspace/decay-budget.ts";
import type { Watchdog, WatchdogCheck } from "./watchdog.ts";

/** How often MEMORY.md is measured (ms). */
export const MEMORY_BUDGET_INTERVAL_MS = 60_000;

/** Options of {@link MemoryBudgetWatchdog}. */
export type MemoryBudgetOptions = {
  workspaceDir: string;
  /** The gateway's `bootstrapMaxChars` (characters). */
  budgetChars: number;
  clock: Pick<Clock, "sleep">;
};

/** Measures MEMORY.md now and then every {@link MEMORY_BUDGET_INTERVAL_MS}. */
export class MemoryBudgetWatchdog implements Watchdog {
  readonly name = "memory-md";
  readonly #o: MemoryBudgetOptions;
  #last: MemoryBudgetCheck | undefined;

  constructor(opts: MemoryBudgetOptions) {
    this.#o = opts;
  }

  /** @inheritdoc */
  check(): WatchdogCheck | undefined {
    const m = this.#last;
    if (!m) return undefined;
    return {
      key: "workspace:memory-md",
      status: m.status,
      output: m.status === "pass" ? null : m.output,
      componentType: "component",
      observedValue: m.observedValue,
      observedUnit: "chars",
    };
  }

  /** @inheritdoc */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#last = await readMemoryBudget(this.#o.workspaceDir, this.#o.budgetChars);
      await this.#o.clock.sleep(MEMORY_BUDGET_INTERVAL_MS, signal);
    }
  }
}
