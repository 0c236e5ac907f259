/**
 * Which transcript messages answer a turn (issue 10, "reconciliation can never hand one turn the
 * other's reply"), and how far back the transcript is read (readSessionBackTo). Pure, over
 * chat.history shapes observed on openclaw 2026.9.6.
 */
import { describe, expect, it } from "vitest";
import { findTurnOutcome } from "../../src/turns/transcript.ts";
import { HISTORY_SLACK_MS, readSessionBackTo } from "../../src/turns/transcript-read.ts";

const TURN = "5b0c9a52-3a1e-4c55-9a57-0f6d1b0b9e01";
const OTHER = "0e7a1f33-7c2b-4b61-8a10-2f3c4d5e6f70";
const user = (key: string, at = 0) => ({ role: "user", content: "hi", idempotencyKey: `${key}:user`, timestamp: at });
const assistant = (runId: string | undefined, text: string, at = 0) => ({
  role: "assistant",
  content: [{ type: "text", text }],
  stopReason: "stop",
  timestamp: at,
  ...(runId ? { __openclaw: { runId } } : {}),
});

describe("findTurnOutcome: only the turn's runs answer it", () => {
  it("another run's answer in the same session is not this turn's reply", () => {
    expect(findTurnOutcome({ messages: [user(TURN), assistant(OTHER, "not yours")] }, TURN)).toEqual({ kind: "pending" });
  });

  it("notes without run metadata after the stamped reply do not replace it", () => {
    const messages = [user(TURN), assistant(TURN, "the answer"), assistant(undefined, "note 1"), assistant(undefined, "note 2")];
    expect(findTurnOutcome({ messages }, TURN)).toEqual({ kind: "replied", reply: "the answer", runId: TURN });
  });
});

describe("readSessionBackTo", () => {
  /** A gateway serving `all` (oldest first) in tail pages, as chat.history does. */
  const serve = (all: unknown[]) => {
    const asked: number[] = [];
    const request = async (p: Record<string, unknown>) => {
      const offset = (p.offset as number | undefined) ?? 0;
      asked.push(offset);
      const end = all.length - offset;
      const start = Math.max(0, end - (p.limit as number));
      return { messages: all.slice(start, end), hasMore: start > 0, ...(start > 0 ? { nextOffset: offset + end - start } : {}) };
    };
    return { request, asked };
  };

  it("pages back until the turn's user message and returns everything from there on, oldest first", async () => {
    const all = [user("older"), user(TURN), assistant(TURN, "a"), ...Array.from({ length: 450 }, (_, i) => assistant(undefined, `n${i}`))];
    const { request, asked } = serve(all);
    const read = await readSessionBackTo(request, "agent:main:c", TURN, null);
    expect(asked).toEqual([0, 200, 400]);
    expect(read.complete).toBe(true);
    expect(read.messages.at(-1)).toEqual(all.at(-1));
    expect(findTurnOutcome({ messages: read.messages }, TURN)).toMatchObject({ kind: "replied", reply: "a" });
  });

  it("stops at messages older than the turn's first send: the turn is then absent", async () => {
    const firstSentAt = 10_000_000;
    const old = firstSentAt - HISTORY_SLACK_MS - 1;
    const all = [...Array.from({ length: 1000 }, () => assistant(undefined, "ancient", old - 5)), ...Array.from({ length: 300 }, () => assistant(undefined, "new", firstSentAt + 5))];
    const { request, asked } = serve(all);
    const read = await readSessionBackTo(request, "agent:main:c", TURN, firstSentAt);
    expect(asked).toEqual([0, 200]);
    expect(findTurnOutcome({ messages: read.messages }, TURN)).toEqual({ kind: "absent" });
  });
});
