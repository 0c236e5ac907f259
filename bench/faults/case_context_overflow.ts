/**
 * Context overflow death spiral (issue 12, mode 1; upstream #13624, #146724, #150447), with the real
 * gateway: a tool prints 120 kB into a conversation while the mock model answers 400
 * `context_length_exceeded` to any request larger than that conversation's first one plus 30 kB.
 * Every later turn of the conversation is refused, until the daemon compacts the session
 * (SESSION_REPAIR=compact, SESSION_REPAIR_AFTER=2, the defaults). The turn queued behind them must
 * be held during the repair and answered after it.
 */
import { describeEvent, ms, submit, turnRows, verifyDone, waitEvent } from "./observe.ts";
import { combine, sharedRealCase } from "./runner.ts";
import { compareMemory, finishedAt, isSummaryCall, memoryFiles, modelCalls, repairEvents, repairReadout, verifyRefused } from "./session-repair-observe.ts";

const CONV = "ctx-overflow";
const HEADROOM = 30_000;
const BIG_OUTPUT = `\ntoolcalls=[{"name":"exec","arguments":{"command":"head -c 120000 /dev/zero | tr '\\\\0' x"}}]`;

export const contextOverflow = sharedRealCase({
  id: "context-overflow",
  fault: "Context overflow death spiral",
  how:
    `A turn whose tool (\`exec\`) prints 120 kB, while the mock model refuses requests over the conversation's first request + ${HEADROOM / 1000} kB with OpenAI's 400 \`context_length_exceeded\`; ` +
    "two more turns are queued behind it. Defaults SESSION_REPAIR=compact, SESSION_REPAIR_AFTER=2. " +
    "Times from the first refused turn's failure; detected at the 'session-repair' event; serving again when the queued turn after the repair is done.",
  async measure(s) {
    const site = s.site;
    const sessionKey = `agent:main:${CONV}`;
    const memory = memoryFiles(site);
    const warm = await submit(site, CONV, "ctx-warm");
    await finishedAt(site, warm, 120_000);
    const fresh = s.model.requests.find((r) => r.prompt.includes(warm.marker))?.bytes ?? 40_000;
    s.model.settings.contextLimitBytes = fresh + HEADROOM;
    try {
      const big = await submit(site, CONV, "ctx-big", BIG_OUTPUT);
      const first = await finishedAt(site, big, 120_000);
      const injectAt = first.at;
      const small = await submit(site, CONV, "ctx-small");
      const after = await submit(site, CONV, "ctx-after");
      const second = await finishedAt(site, small, 120_000);
      const repair = await waitEvent(site, injectAt, "the session repair", (e) => e.state.startsWith("session-repair") && (e.reason ?? "").includes(` ${sessionKey} `), 120_000).catch(() => undefined);
      const served = await finishedAt(site, after, 180_000);
      const verdict = combine(await verifyDone(site, [after]), verifyRefused(s, [{ turn: big, expectedCalls: 2 }, { turn: small, expectedCalls: 1 }]));
      const summaries = s.model.requests.filter((r) => r.at >= injectAt && isSummaryCall(r.prompt)).length;
      const events = repairEvents(site, injectAt, sessionKey);
      return {
        injectAt,
        detectedAt: repair?.at ?? null,
        servingAt: served.state === "done" ? served.at : null,
        verdict,
        notes: [
          `limit ${Math.round((fresh + HEADROOM) / 1000)} kB; first failure: ${first.error ?? first.state}`,
          `second turn ${second.state} ${ms(second.at - injectAt)} ms later`,
          events.length === 0 ? "NO session-repair event" : events.map(describeEvent).join(", "),
          `queued turn ${served.state} ${ms(served.at - injectAt)} ms after the first failure, ${turnRows(site, [after.id]).get(after.id)?.attempts} attempt(s), ${modelCalls(s, after).calls} model call(s); ${summaries} compaction summary call(s)`,
          await repairReadout(site),
          compareMemory(memory, memoryFiles(site)),
          "the two refused turns are failed turns (the provider refused them), not lost ones; each reached the model once per round",
        ],
      };
    } finally {
      s.model.settings.contextLimitBytes = null;
    }
  },
});
