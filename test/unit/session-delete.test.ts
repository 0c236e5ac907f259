/** deleteSession (src/gateway/session-delete.ts): the write-scoped archive-then-delete sequence, and what it skips. */
import { describe, expect, it } from "vitest";
import { deleteSession } from "../../src/gateway/session-delete.ts";

function recorder(session: Record<string, unknown> | null) {
  const calls: [string, unknown][] = [];
  const request = async (method: string, params: unknown) => {
    calls.push([method, params]);
    if (method === "sessions.describe") return { session };
    if (method === "sessions.delete") return { ok: true, deleted: true, archived: ["/s/a.jsonl.deleted.t.zst", 7] };
    return { ok: true };
  };
  return { calls, request };
}

describe("deleteSession", () => {
  it("archives the session it described, then deletes it as archived, with that session id", async () => {
    const r = recorder({ key: "agent:main:p", sessionId: "s-1", archived: false, extra: "ignored" });
    expect(await deleteSession(r.request, "agent:main:p", 1000)).toEqual({ sessionId: "s-1", archived: ["/s/a.jsonl.deleted.t.zst"] });
    expect(r.calls).toEqual([
      ["sessions.describe", { key: "agent:main:p" }],
      ["sessions.patch", { key: "agent:main:p", archived: true, expectedSessionId: "s-1" }],
      ["sessions.delete", { key: "agent:main:p", archivedOnly: true, expectedSessionId: "s-1", deleteTranscript: true }],
    ]);
  });

  it("does nothing more for a missing session, and does not archive an archived one again", async () => {
    const missing = recorder(null);
    expect(await deleteSession(missing.request, "agent:main:p", 1000)).toEqual({ sessionId: null, archived: [] });
    expect(missing.calls.map(([m]) => m)).toEqual(["sessions.describe"]);
    const archived = recorder({ sessionId: "s-2", archived: true });
    await deleteSession(archived.request, "agent:main:p", 1000);
    expect(archived.calls.map(([m]) => m)).toEqual(["sessions.describe", "sessions.delete"]);
  });

  it("passes the refusal on (e.g. the session changed in between)", async () => {
    const request = async (method: string) => {
      if (method === "sessions.describe") return { session: { sessionId: "s-3" } };
      throw new Error("session-changed");
    };
    await expect(deleteSession(request, "agent:main:p", 1000)).rejects.toThrow("session-changed");
  });
});
