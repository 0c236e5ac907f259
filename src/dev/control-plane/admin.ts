/**
 * The admin operations of the reference control plane, one implementation for both callers:
 * tests call them in-process, people call them over `/admin` (routes_admin.ts). Inputs are
 * validated with the zod schemas below, which reuse the contract's field rules.
 */
import { z } from "zod";
import { claimedTurnSchema, secretsSchema, skillFileSchema, skillsManifestSchema, statusAckSchema, type Secrets } from "../../sync/contract.ts";
import { ControlPlaneError, describeIssues } from "./http.ts";
import type { CpTurnState } from "./leases.ts";
import type { FaultTable } from "./faults.ts";
import type { RuntimeRecord, RuntimeRegistry, SkillInput, StoredStatus } from "./store_runtimes.ts";
import type { EnqueueTurnInput, TurnQueue } from "./store_turns.ts";
import type { TurnView } from "./views.ts";
import type { Wakeups } from "./waiters.ts";

const accountId = statusAckSchema.shape.accountId;
const runtimeId = statusAckSchema.shape.runtimeId;

/** Body of `POST /admin/turns`. */
export const enqueueTurnSchema = z.strictObject({
  accountId,
  runtimeId: runtimeId.optional(),
  conversationId: claimedTurnSchema.shape.conversationId,
  message: claimedTurnSchema.shape.message,
  sessionKey: claimedTurnSchema.shape.sessionKey,
  agentId: claimedTurnSchema.shape.agentId,
  turnId: claimedTurnSchema.shape.turnId.optional(),
});

/** Body of `PUT /admin/runtimes/:runtimeId` (register or move a runtime). */
export const registerRuntimeSchema = z.strictObject({ accountId });

/** The contract's provider objects, strict: responses are read leniently, admin input is not. */
const providers = secretsSchema.shape.providers.shape;

/** Body of `PUT /admin/runtimes/:runtimeId/secrets`. */
export const setSecretsSchema = z.strictObject({
  providers: z.strictObject({
    moonshot: z.strictObject(providers.moonshot.unwrap().shape).optional(),
    openai: z.strictObject(providers.openai.unwrap().shape).optional(),
    compat: z.strictObject(providers.compat.unwrap().shape).optional(),
  }),
  /** The runtime's gateway settings (issue 14): the desired OpenClaw version. */
  gateway: z.strictObject(secretsSchema.shape.gateway.unwrap().shape).optional(),
});

/** Body of `PUT /admin/accounts/:accountId/skills`: files without digests (the server computes sha256). */
export const setSkillsSchema = z.strictObject({
  skills: z
    .array(z.strictObject({ name: skillsManifestSchema.shape.skills.element.shape.name, files: z.array(z.strictObject(skillFileSchema.omit({ sha256: true }).shape)).min(1).max(1000) }))
    .max(200),
});

/** Admin operations. Every method throws {@link ControlPlaneError} (codes in http.ts) on bad input. */
export type ControlPlaneAdmin = {
  /** Register `runtimeId` under `accountId` (or move it). */
  registerRuntime(r: RuntimeRecord): void;
  /** Registered runtimes. */
  runtimes(): RuntimeRecord[];
  /** Queue a turn for an account (optionally pinned to one of its runtimes); wakes parked claims. @throws BAD_REQUEST, UNKNOWN_RUNTIME, TURN_EXISTS, TOO_LARGE */
  enqueueTurn(input: EnqueueTurnInput): { turnId: string };
  /** The turn's state, result, reports and leases; undefined if unknown. */
  getTurn(turnId: string): TurnView | undefined;
  /** Turns in enqueue order, optionally filtered. */
  listTurns(filter?: { accountId?: string | undefined; state?: CpTurnState | undefined }): TurnView[];
  /** Cancel a turn without a result; its lease is lost. @throws NOT_FOUND, TURN_FINISHED */
  cancelTurn(turnId: string): TurnView;
  /** End the current lease of a leased turn now, so it can be claimed again. @throws NOT_FOUND, TURN_FINISHED */
  expireLease(turnId: string): TurnView;
  /** Set (rotate) a runtime's secrets; the version goes up by one. @throws BAD_REQUEST, UNKNOWN_RUNTIME */
  setSecrets(runtimeId: string, providers: Secrets["providers"], gateway?: Secrets["gateway"]): { version: string };
  /** Remove a runtime's secrets (the daemon then gets 404 NO_SECRETS). @throws UNKNOWN_RUNTIME */
  clearSecrets(runtimeId: string): void;
  /** Replace an account's skills (sha256 computed here); the version goes up by one. @throws BAD_REQUEST, TOO_LARGE */
  setSkills(accountId: string, skills: SkillInput[]): { version: string };
  /** The latest status report of a runtime, or undefined. */
  latestStatus(runtimeId: string): StoredStatus | undefined;
  /** Up to `limit` status reports, newest first. */
  statusHistory(runtimeId: string, limit?: number): StoredStatus[];
  /** The fault table (see faults.ts). */
  faults: FaultTable;
  /** How many claims are parked in a long-poll right now. */
  parkedClaims(): number;
};

function check<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ControlPlaneError("BAD_REQUEST", describeIssues(r.error));
  return r.data;
}

/** Build the admin operations over the stores. `now` is epoch ms. */
export function createAdmin(d: { turns: TurnQueue; registry: RuntimeRegistry; wakeups: Wakeups; faults: FaultTable; now: () => number }): ControlPlaneAdmin {
  const { turns, registry } = d;
  return {
    registerRuntime: (r) => {
      check(registerRuntimeSchema, { accountId: r.accountId });
      registry.register({ runtimeId: check(runtimeId, r.runtimeId), accountId: r.accountId }, d.now());
    },
    runtimes: () => registry.list(),
    enqueueTurn: (input) => {
      const t = check(enqueueTurnSchema, input);
      if (t.runtimeId !== undefined && registry.mustGet(t.runtimeId).accountId !== t.accountId) {
        throw new ControlPlaneError("UNKNOWN_RUNTIME", `runtime ${t.runtimeId} does not belong to account ${t.accountId}`);
      }
      const turnId = turns.enqueue(t, d.now());
      d.wakeups.notify(t.accountId);
      return { turnId };
    },
    getTurn: (id) => turns.view(id, d.now()),
    listTurns: (f = {}) => turns.list(f, d.now()),
    cancelTurn: (id) => turns.cancel(id, d.now()),
    expireLease: (id) => {
      const view = turns.expireLease(id, d.now());
      d.wakeups.notify(view.accountId);
      return view;
    },
    setSecrets: (rid, providers, gateway) => {
      registry.mustGet(rid);
      const body = check(setSecretsSchema, gateway === undefined ? { providers } : { providers, gateway });
      const v = registry.setSecrets(rid, body.providers, d.now(), body.gateway);
      // Parked claims answer at once with the new version (issue 15).
      d.wakeups.notify(registry.mustGet(rid).accountId);
      return v;
    },
    clearSecrets: (rid) => {
      const rt = registry.mustGet(rid);
      registry.setSecrets(rid, null, d.now());
      d.wakeups.notify(rt.accountId);
    },
    setSkills: (aid, skills) => {
      const v = registry.setSkills(check(accountId, aid), check(setSkillsSchema, { skills }).skills, d.now());
      d.wakeups.notify(aid);
      return v;
    },
    latestStatus: (rid) => registry.statusHistory(rid, 1)[0],
    statusHistory: (rid, limit) => registry.statusHistory(rid, limit),
    faults: d.faults,
    parkedClaims: () => d.wakeups.size,
  };
}
