/**
 * Reading a session transcript far enough back to judge one turn: `chat.history` pages from the
 * newest message backwards (`offset` counts messages already read from the tail; an answer says
 * `hasMore` and the `nextOffset` to ask for, openclaw 2026.9.6 chat-history handler) until the
 * turn's own user message is found, the messages are older than the turn's first send, or the
 * session has no more. A turn followed by any number of messages (a tool-heavy run, a busy
 * session) is therefore found; a single tail page of 50 missed it and the turn was sent again.
 */
import { findTurnOutcome, isTurnUserMessage, type TranscriptOutcome } from "./transcript.ts";

/** Messages per `chat.history` page (the gateway allows up to 1000). */
export const HISTORY_PAGE = 200;
/** Most pages read for one turn (at {@link HISTORY_PAGE} each: 20,000 messages). */
export const HISTORY_MAX_PAGES = 100;
/**
 * A message this much older than the turn's first send (ms) ends the search: the turn's user
 * message cannot be older than its first send. The slack covers clock reads on the same host.
 */
export const HISTORY_SLACK_MS = 60_000;

/** One request to the gateway (the connection's `request`). */
export type HistoryRequest = (params: Record<string, unknown>) => Promise<unknown>;

/** What was read: every message from the turn's user message (or the oldest read) to the newest, oldest first. */
export type SessionRead = {
  messages: unknown[];
  pendingInputs: unknown;
  /** The newest page's `sessionInfo.hasActiveRun` (docs/gateway/protocol/rpc-session-control.md), if given. */
  activeRun: boolean | undefined;
  pages: number;
  complete: boolean;
};

type Page = { messages?: unknown; pendingInputs?: unknown; hasMore?: unknown; nextOffset?: unknown; sessionInfo?: unknown };
type Msg = Record<string, unknown>;

function olderThan(m: unknown, limitMs: number): boolean {
  const ts = m && typeof m === "object" ? (m as Msg).timestamp : undefined;
  return typeof ts === "number" && ts < limitMs;
}

/**
 * Read session `sessionKey` back to turn `turnId`'s user message.
 * @param firstSentAt epoch ms of the turn's first delivery (null: no time bound)
 * @returns the messages (oldest first) and the first page's `pendingInputs`; `complete` is false
 *   only when {@link HISTORY_MAX_PAGES} ran out before the search ended
 * @throws whatever the request throws (transport errors, gateway errors)
 */
export async function readSessionBackTo(request: HistoryRequest, sessionKey: string, turnId: string, firstSentAt: number | null): Promise<SessionRead> {
  const limitMs = firstSentAt === null ? -Infinity : firstSentAt - HISTORY_SLACK_MS;
  let messages: unknown[] = [];
  let pendingInputs: unknown;
  let activeRun: boolean | undefined;
  let offset = 0;
  for (let pages = 1; pages <= HISTORY_MAX_PAGES; pages++) {
    const page = ((await request({ sessionKey, limit: HISTORY_PAGE, ...(offset > 0 ? { offset } : {}) })) ?? {}) as Page;
    const batch = Array.isArray(page.messages) ? page.messages : [];
    if (pages === 1) {
      pendingInputs = page.pendingInputs;
      const has = (page.sessionInfo as { hasActiveRun?: unknown } | undefined)?.hasActiveRun;
      activeRun = typeof has === "boolean" ? has : undefined;
    }
    messages = [...batch, ...messages];
    const next = typeof page.nextOffset === "number" && page.nextOffset > offset ? page.nextOffset : undefined;
    const done = batch.some((m) => isTurnUserMessage(m, turnId)) || batch.some((m) => olderThan(m, limitMs)) || page.hasMore !== true || next === undefined;
    if (done) return { messages, pendingInputs, activeRun, pages, complete: true };
    offset = next;
  }
  return { messages, pendingInputs, activeRun, pages: HISTORY_MAX_PAGES, complete: false };
}

/**
 * What the transcript says about turn `t`, read back to its user message (see
 * {@link readSessionBackTo}). A search cut off by {@link HISTORY_MAX_PAGES} counts as `pending`:
 * absence is never assumed without proof, since absence means "send it again". `activeRun` is
 * the session's `hasActiveRun` at the time of the read, when the gateway says.
 * @throws whatever the request throws
 */
export async function lookUpTurn(
  request: HistoryRequest,
  t: { id: string; sessionKey: string; firstDeliveredAt: number | null },
): Promise<TranscriptOutcome & { activeRun: boolean | undefined }> {
  const read = await readSessionBackTo(request, t.sessionKey, t.id, t.firstDeliveredAt);
  const outcome = findTurnOutcome({ messages: read.messages, pendingInputs: read.pendingInputs }, t.id);
  return { ...(!read.complete && outcome.kind === "absent" ? { kind: "pending" } : outcome), activeRun: read.activeRun };
}
