/**
 * A poisoned session (issue 12, mode 2; upstream #10310, #15037, #69846), with the real gateway: a
 * turn carrying the mock model's poison mark, which then refuses every request of that
 * conversation with OpenAI's 400 for orphaned `tool_calls` (the mark stays in the session's
 * history, as an orphaned tool call would). openclaw 2026.9.6 itself does not poison a session
 * when killed mid-tool: it stores the orphaned call but pairs tool results before each model call
 * (test/e2e/session-repair.e2e.test.ts shows it), so the provider's refusal is injected. The
 * daemon must compact, then reset the session; three turns are queued behind the poisoned one.
 */
import { describeEvent, ms, submit, turnRows, verifyDone, waitEvent } from "./observe.ts";
import { POISON_MARK } from "../../src/dev/mock-model.ts";
import { combine, sharedRealCase } from "./runner.ts";
import { compareMemory, finishedAt, isSummaryCall, memoryFiles, repairEvents, repairReadout, verifyRefused } from "./session-repair-observe.ts";

const CONV = "poisoned";

export const poisonedSession = sharedRealCase({
  id: "poisoned-session",
  fault: "Poisoned session (refused transcript)",
  how:
    `A turn carrying the mock model's poison mark (\`${POISON_MARK}\`): every later request of that conversation gets OpenAI's 400 for orphaned \`tool_calls\`, ` +
    "which the gateway reports as \"provider rejected the request schema or tool payload\"; three turns are queued behind it. Defaults SESSION_REPAIR=compact, SESSION_REPAIR_AFTER=2. " +
    "Times from the poisoned turn's failure; detected at the first 'session-repair' event; serving again when the first queued turn is done.",
  async measure(s) {
    const site = s.site;
    const sessionKey = `agent:main:${CONV}`;
    const memory = memoryFiles(site);
    const warm = await submit(site, CONV, "poison-warm");
    await finishedAt(site, warm, 120_000);
    const poison = await submit(site, CONV, "poison", ` ${POISON_MARK}`);
    const first = await finishedAt(site, poison, 120_000);
    const injectAt = first.at;
    const queued = [await submit(site, CONV, "poison-q1"), await submit(site, CONV, "poison-q2"), await submit(site, CONV, "poison-q3")];
    const ends: Awaited<ReturnType<typeof finishedAt>>[] = [];
    for (const t of queued) ends.push(await finishedAt(site, t, 180_000));
    const detected = await waitEvent(site, injectAt, "the session repair", (e) => e.state.startsWith("session-repair") && (e.reason ?? "").includes(` ${sessionKey} `), 10_000).catch(() => undefined);
    const done = queued.filter((_, i) => ends[i]!.state === "done");
    const refused = queued.filter((_, i) => ends[i]!.state !== "done");
    const servedAt = ends.filter((e) => e.state === "done").map((e) => e.at).sort((a, b) => a - b)[0] ?? null;
    const verdict = combine(await verifyDone(site, done), verifyRefused(s, [poison, ...refused].map((turn) => ({ turn, expectedCalls: 1 }))));
    const rows = turnRows(site, queued.map((t) => t.id));
    const summaries = s.model.requests.filter((r) => r.at >= injectAt && isSummaryCall(r.prompt)).length;
    return {
      injectAt,
      detectedAt: detected?.at ?? null,
      servingAt: servedAt,
      verdict,
      notes: [
        `first failure: ${first.error ?? first.state}`,
        `queued turns: ${queued.map((t, i) => `${ends[i]!.state} at +${ms(ends[i]!.at - injectAt)} ms (${rows.get(t.id)?.attempts} attempt)`).join(", ")}`,
        repairEvents(site, injectAt, sessionKey).map(describeEvent).join(", ") || "NO session-repair event",
        `${summaries} compaction summary call(s) (the compaction keeps the newest messages, the poisoned one among them)`,
        await repairReadout(site),
        compareMemory(memory, memoryFiles(site)),
        "the refused turns are failed turns (the provider refused them), not lost ones; each reached the model once",
      ],
    };
  },
});
