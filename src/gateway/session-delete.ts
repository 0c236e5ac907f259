/**
 * Deleting one session through the gateway with the daemon's own scopes (`operator.read` and
 * `operator.write`, gateway/connection.ts).
 *
 * On openclaw 2026.9.6 `sessions.reset`, `sessions.compact` and a plain `sessions.delete` need
 * `operator.admin` (its `dist/method-scopes-*.mjs`; observed: "missing scope: operator.admin").
 * Two write-scoped calls do the same for a session that is not the agent's main one
 * (docs/gateway/protocol/rpc-session-control.md): `sessions.patch {archived: true,
 * expectedSessionId}` fences the session, cancels its active and queued work and archives it, then
 * `sessions.delete {archivedOnly: true, expectedSessionId, deleteTranscript: true}` removes it.
 * `expectedSessionId` comes from `sessions.describe`, so a session replaced in between is left
 * alone. The gateway keeps a compressed archive of the deleted transcript
 * (`<sessionId>.jsonl.deleted.<timestamp>.zst` in its sessions directory, under 1 KB for a probe
 * session; docs/reference/session-management-compaction/maintenance.md), which its own
 * `session.maintenance` budget bounds.
 */

/** One request on the gateway connection (GatewayConnection.request fits). Rejects on errors and timeouts. */
export type SessionRequest = (method: string, params: unknown, opts: { timeoutMs: number; signal?: AbortSignal }) => Promise<unknown>;

/** What {@link deleteSession} did: the deleted session's id (null when there was none) and the archive paths the gateway reported. */
export type SessionDeleted = { sessionId: string | null; archived: string[] };

/**
 * Archive, then delete, the session `key` (see the module comment). A missing session is not an error.
 * @param timeoutMs timeout of each of the three requests (ms)
 * @throws the request's error (GatewayProtocolRequestError for a refusal, e.g. `session-changed`;
 *   a timeout or closed connection otherwise); the session may then be archived but not deleted,
 *   and a later call finishes the job
 */
export async function deleteSession(request: SessionRequest, key: string, timeoutMs: number, signal?: AbortSignal): Promise<SessionDeleted> {
  const opts = { timeoutMs, ...(signal ? { signal } : {}) };
  // Lenient: `{session: null}` for a missing key; unknown fields ignored.
  const described = (await request("sessions.describe", { key }, opts)) as { session?: { sessionId?: unknown; archived?: unknown } | null } | null;
  const sessionId = described?.session?.sessionId;
  if (typeof sessionId !== "string" || sessionId === "") return { sessionId: null, archived: [] };
  if (described?.session?.archived !== true) await request("sessions.patch", { key, archived: true, expectedSessionId: sessionId }, opts);
  const deleted = (await request("sessions.delete", { key, archivedOnly: true, expectedSessionId: sessionId, deleteTranscript: true }, opts)) as { archived?: unknown } | null;
  const archived = Array.isArray(deleted?.archived) ? deleted.archived.filter((a): a is string => typeof a === "string") : [];
  return { sessionId, archived };
}
