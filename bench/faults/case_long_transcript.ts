/**
 * A turn followed by more than 50 transcript messages, then a gateway restart (issue 10, item 1).
 * The daemon loses the turn's answer (it is frozen while the gateway finishes the run), 60
 * messages land in the session after the reply, and the gateway is SIGKILLed, taking its
 * in-memory idempotency with it. Only a transcript read back to the turn's first send shows that
 * the turn already ran; a tail of 50 messages did not, and the turn ran a second time.
 */
import { gatewayRequest, until } from "../../test/e2e/harness.ts";
import { countInTranscript, describeEvent, ms, waitEvent } from "./observe.ts";
import { inflightTurn, recover, sharedRealCase, signalGateway } from "./runner.ts";

const NOTES = 60;

export const longTranscript = sharedRealCase({
  id: "long-transcript",
  fault: "Answer lost, 60 messages after it, gateway restart",
  how:
    `The daemon is frozen (SIGSTOP) while the real gateway answers a turn (\`delay=3000\`); once the reply is in the transcript, ${NOTES} messages are ` +
    "injected into the same session (`chat.inject`), the gateway is SIGKILLed (its idempotency map is in memory) and the daemon continued. " +
    "Detected at the 'exited' event; the turn must be completed from the transcript with one model call.",
  async measure(s) {
    const site = s.site;
    const turn = await inflightTurn(s, "long-transcript", "long-a", 3000);
    const sessionKey = `agent:main:${turn.conversationId}`;
    s.daemon.proc.kill("SIGSTOP");
    try {
      await until("the gateway to write the reply", async () => countInTranscript(await gatewayRequest(site, "chat.history", { sessionKey, limit: 200 }), turn.marker).assistant > 0, 60_000);
      for (let i = 0; i < NOTES; i++) await gatewayRequest(site, "chat.inject", { sessionKey, message: `note ${i}` });
    } finally {
      s.daemon.proc.kill("SIGCONT");
    }
    const { injectAt } = await signalGateway(site, "SIGKILL");
    const first = await waitEvent(site, injectAt, "the exit", () => true, 30_000);
    const { again, rows, verdict } = await recover(site, "long-transcript-fresh", [turn]);
    const modelCalls = s.model.requests.filter((r) => r.prompt.includes(turn.marker)).length;
    if (modelCalls > 1) {
      verdict.duplicated = Math.max(verdict.duplicated, 1);
      verdict.problems.push(`the model was asked ${modelCalls}x for the turn: it ran again`);
    }
    return {
      injectAt,
      detectedAt: first.at,
      servingAt: again.doneAt,
      verdict,
      notes: [`${describeEvent(first)}; turn done after ${rows.get(turn.id)?.attempts} attempt(s) and ${modelCalls} model call(s), ${ms(again.doneAt - injectAt)} ms to serve again`],
    };
  },
});
