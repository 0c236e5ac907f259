/**
 * OpenClaw session keys: `agent:<agentId>:<key>` names one session of one agent
 * (docs/gateway/protocol/rpc-bootstrap-and-events.md of the openclaw package; the control-plane contract's `sessionKey`
 * and `agentId` fields). Every turn of a conversation goes to that conversation's session.
 */

/**
 * Session key of a conversation.
 * @param conversationId the caller's conversation id
 * @param agentId the gateway agent (default "main", the gateway's default agent)
 * @returns `agent:<agentId>:<conversationId>`
 */
export function sessionKeyFor(conversationId: string, agentId = "main"): string {
  return `agent:${agentId}:${conversationId}`;
}

/**
 * Session key of a claimed turn: its explicit `sessionKey`, else {@link sessionKeyFor} of its
 * conversation on `agentId`.
 */
export function claimSessionKey(c: { conversationId: string; sessionKey?: string | undefined; agentId?: string | undefined }): string {
  return c.sessionKey ?? sessionKeyFor(c.conversationId, c.agentId);
}

/**
 * The conversation of the daemon's own probe turn (watchdogs/probe-turn.ts, issue 12): its session
 * is deleted every few probes, so no caller's turn may use it (the local API refuses it).
 */
export const PROBE_CONVERSATION_ID = "agent-supervisor-probe";

/** Whether `conversationId` is the probe's (compared without case: the gateway may fold session keys). */
export function isProbeConversation(conversationId: string): boolean {
  return conversationId.toLowerCase() === PROBE_CONVERSATION_ID;
}
