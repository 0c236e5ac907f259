/**
 * Daemon-facing result routes: `POST /v1/turns/{turnId}/complete` and `/fail`, idempotent on the
 * turn id. The first result under the turn's current lease wins; the same report again answers
 * `duplicate: true`; a result under a lease that is no longer the turn's gets 409 LEASE_LOST, and
 * so does the other kind of result under the winning lease (a conflict: the daemon must drop it
 * as well, and its client drops exactly on 409 LEASE_LOST). Every report is kept with its outcome.
 */
import { Hono } from "hono";
import { OPERATIONS } from "../../sync/contract.ts";
import { identify } from "./auth.ts";
import { ControlPlaneError, parseBody, refuseUnaccepted, sendChecked } from "./http.ts";
import type { ResultKind } from "./leases.ts";
import type { RuntimeRegistry } from "./store_runtimes.ts";
import type { TurnQueue } from "./store_turns.ts";

/** What the result routes need. `now` is epoch ms. */
export type ResultRoutesDeps = {
  turns: TurnQueue;
  registry: RuntimeRegistry;
  now: () => number;
  /** The optional request fields it takes (contract.ts OPTIONAL_REQUEST_FIELDS). */
  accepts: readonly string[];
};

/** The `/v1/turns/:turnId/{complete,fail}` routes, to be mounted at `/v1/turns`. */
export function resultRoutes(d: ResultRoutesDeps): Hono {
  const app = new Hono();
  const route = (kind: ResultKind) => {
    const op = kind === "complete" ? OPERATIONS.complete : OPERATIONS.fail;
    app.post(`/:turnId/${kind}`, async (c) => {
      const body = await parseBody(c, op.request);
      refuseUnaccepted(body, `${kind}.usage`, d.accepts);
      const rt = identify(d.registry, undefined, body);
      const turnId = c.req.param("turnId");
      const { verdict } = d.turns.report(turnId, kind, body, d.now());
      switch (verdict.kind) {
        case "accept":
        case "duplicate":
          return sendChecked(c, op.response, { ...rt, turnId, duplicate: verdict.kind === "duplicate" });
        case "lease-lost":
        case "conflict":
          throw new ControlPlaneError("LEASE_LOST", `lease ${body.leaseId} of turn ${turnId} cannot report: ${verdict.reason}; drop this result`);
      }
    });
  };
  route("complete");
  route("fail");
  return app;
}
