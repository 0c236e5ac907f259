/**
 * Fault injection for tests: a table of faults and one middleware in front of the daemon-facing
 * routes that consults it, so the normal handlers know nothing about faults.
 *
 * A fault names an operation of the contract (or "*"), how many requests it hits (`times`;
 * omitted: every request until cleared) and an action. With phase "before" (default) the handler
 * does not run (nothing changes at the control plane); with "after" the handler runs first (a
 * claim hands out leases, a result is stored) and the fault replaces or spoils its response,
 * e.g. a stored result whose acknowledgement is lost. Mutations always run after the handler.
 */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { OPERATIONS } from "../../sync/contract.ts";
import { applyFault, faultActionSchema } from "./fault-actions.ts";

/** Names of the contract's operations (keys of OPERATIONS). */
export type OperationName = keyof typeof OPERATIONS;

const OPERATION_NAMES = Object.keys(OPERATIONS) as [OperationName, ...OperationName[]];
/** A fault as given to {@link FaultTable.add} or `POST /admin/faults`. */
export const faultSpecSchema = z.strictObject({
  operation: z.enum([...OPERATION_NAMES, "*"]),
  times: z.number().int().min(1).optional(),
  phase: z.enum(["before", "after"]).default("before"),
  action: faultActionSchema,
});

/** Input shape of a fault (defaults may be omitted). */
export type FaultSpec = z.input<typeof faultSpecSchema>;
/** A fault in the table: `remaining` is null when it lasts until cleared; `hits` counts requests it took. */
export type Fault = z.output<typeof faultSpecSchema> & { id: string; remaining: number | null; hits: number };

/** Faults in insertion order; the first that matches a request takes it. */
export class FaultTable {
  readonly #faults: Fault[] = [];
  #seq = 0;

  /** Add a fault. @throws ZodError if `spec` is invalid */
  add(spec: FaultSpec): Fault {
    const s = faultSpecSchema.parse(spec);
    const fault: Fault = { ...s, id: `fault-${++this.#seq}`, remaining: s.times ?? null, hits: 0 };
    this.#faults.push(fault);
    return fault;
  }

  /** Remove one fault by id, or all when `id` is omitted. @returns how many were removed */
  clear(id?: string): number {
    const before = this.#faults.length;
    for (let i = this.#faults.length - 1; i >= 0; i--) if (id === undefined || this.#faults[i]!.id === id) this.#faults.splice(i, 1);
    return before - this.#faults.length;
  }

  /** Copies of the active faults. */
  list(): Fault[] {
    return this.#faults.map((f) => ({ ...f }));
  }

  /** Take the first fault for `op`, counting the hit; a fault whose `times` are used up leaves the table. */
  take(op: OperationName): Fault | undefined {
    const i = this.#faults.findIndex((f) => f.operation === "*" || f.operation === op);
    if (i < 0) return undefined;
    const f = this.#faults[i]!;
    f.hits++;
    if (f.remaining !== null && --f.remaining === 0) this.#faults.splice(i, 1);
    return { ...f };
  }
}

const ROUTES = OPERATION_NAMES.map((name) => ({
  name,
  method: OPERATIONS[name].method,
  re: new RegExp(`^${OPERATIONS[name].path.replace(/\{[A-Za-z]+\}/g, "[^/]+")}$`),
}));

/** The contract operation a request is for, by method and path; undefined if none. Pure. */
export function operationFor(method: string, path: string): OperationName | undefined {
  return ROUTES.find((r) => r.method === method && r.re.test(path))?.name;
}

/**
 * Middleware applying the table's faults to the contract's operations. `closing` aborts when the
 * control plane closes (ends hangs and delays); `now` is epoch ms (for expired leases).
 */
export function faultInjection(table: FaultTable, closing: AbortSignal, now: () => number): MiddlewareHandler {
  return async (c, next) => {
    const op = operationFor(c.req.method, c.req.path);
    const fault = op === undefined ? undefined : table.take(op);
    if (fault === undefined) return next();
    const ctx = { closing, now };
    if (fault.phase === "before" && fault.action.kind !== "mutate") {
      const answer = await applyFault(c, fault.action, undefined, ctx);
      if (answer !== undefined) return answer;
      return next();
    }
    await next();
    const replacement = await applyFault(c, fault.action, c.res, ctx);
    if (replacement === undefined || replacement === c.res) return;
    // hono copies the old response's headers onto a new c.res; clear it first so none leak (ETag, ...).
    c.res = undefined;
    c.res = replacement;
  };
}
