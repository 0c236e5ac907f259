/**
 * `POST /v1/turns?wait=` (submit and long-poll in one request) when the wait cannot end with the
 * turn's result: the daemon stops during the wait, or reading the turn back fails. The turn is
 * stored either way, so the client must get its id (and `Location`), never a cut socket or a 503
 * that reads "nothing was stored" (a client would submit it again: a second run). Real
 * TurnService over a SQLite file and a real HTTP server on 127.0.0.1 (local-daemon.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, waitFor } from "../integration/helpers.ts";
import { TOKEN } from "./fakes.ts";
import { harness } from "./harness.ts";
import { type LocalDaemon, startLocalDaemon } from "./local-daemon.ts";

let daemon: LocalDaemon | undefined;
afterEach(async () => {
  await daemon?.close();
  daemon = undefined;
  removeTempDirs();
});

const body = JSON.stringify({ conversationId: "c1", message: "a long one" });

describe("POST /v1/turns?wait=", () => {
  it("answers 202 with the turn id and its Location when the daemon stops during the wait", async () => {
    const d = (daemon = await startLocalDaemon({ hang: "delivering" }));
    const pending = fetch(`http://127.0.0.1:${d.port}/v1/turns?wait=60000`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body,
    });
    await waitFor(() => d.polls() === 1, "the POST to park");
    await d.stop(); // as run.ts does at shutdown: drain, end the long-polls, close
    const res = await pending;
    expect(res.status).toBe(202);
    const view = (await res.json()) as { turnId: string; state: string };
    expect(view).toMatchObject({ turnId: d.ids[0], state: "delivering" });
    expect(res.headers.get("location")).toBe(`/v1/turns/${d.ids[0]}`);
  });

  it("answers 202 with the turn id when reading the turn back fails after it was stored", async () => {
    const submitted: string[] = [];
    const h = harness({
      turns: {
        submit: () => (submitted.push("t-stored"), { turnId: "t-stored", created: true }),
        get: () => undefined,
        waitFinished: () => {
          throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_READ" });
        },
      },
    });
    const res = await h.app.request("/v1/turns?wait=1000", { method: "POST", headers: { "Content-Type": "application/json", ...h.auth }, body });
    expect(submitted).toEqual(["t-stored"]);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ turnId: "t-stored" });
    expect(res.headers.get("location")).toBe("/v1/turns/t-stored");
  });
});
