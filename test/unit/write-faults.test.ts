/**
 * WriteFaults (store/write-faults.ts): which SQLite write sites /health reports as failing. Pure
 * bookkeeping over an injected clock.
 */
import { describe, expect, it } from "vitest";
import { WriteFaults } from "../../src/store/write-faults.ts";

const busy = Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });

describe("WriteFaults", () => {
  it("records a failing site with its code, first and last failure and count; a success there clears it", () => {
    let now = 1_000;
    const f = new WriteFaults({ now: () => now, settleMs: 60_000 });
    f.failed("turns.complete", busy);
    now = 2_000;
    f.failed("turns.complete", busy);
    expect(f.current()).toEqual([{ site: "turns.complete", code: "SQLITE_BUSY", message: "database is locked", since: 1_000, lastAt: 2_000, failures: 2 }]);
    f.succeeded("events.record");
    expect(f.current().map((x) => x.site)).toEqual(["turns.complete"]);
    f.succeeded("turns.complete");
    expect(f.current()).toEqual([]);
  });

  it("a site that fails persistently stays, however many writes succeed elsewhere, while it keeps failing", () => {
    let now = 0;
    const f = new WriteFaults({ now: () => now, settleMs: 60_000 });
    for (; now < 600_000; now += 30_000) {
      f.failed("turns.complete", busy);
      f.succeeded("events.recordRss");
    }
    expect(f.current().map((x) => x.site)).toEqual(["turns.complete"]);
  });

  it("a site nobody writes again clears once writes succeeded after its last failure and the settle time passed, even with no write since", () => {
    let now = 0;
    const f = new WriteFaults({ now: () => now, settleMs: 60_000 });
    f.failed("turns.insert", busy); // a local submit: only its client retries
    now = 30_000;
    f.succeeded("events.record"); // the disk was freed; then the daemon is idle
    now = 59_999;
    expect(f.current().map((x) => x.site)).toEqual(["turns.insert"]);
    now = 60_000;
    expect(f.current()).toEqual([]);
  });

  it("does not clear a site when nothing succeeded since its last failure", () => {
    let now = 0;
    const f = new WriteFaults({ now: () => now, settleMs: 60_000 });
    f.succeeded("events.record");
    now = 1;
    f.failed("turns.insert", busy);
    now = 10 * 60_000;
    expect(f.current().map((x) => x.site)).toEqual(["turns.insert"]);
  });
});
