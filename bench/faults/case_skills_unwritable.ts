/**
 * An unwritable skills manifest from the control plane: after a good skill is installed, the
 * reference control plane serves a manifest in which `a` is a file and also the directory of
 * `a/b`. The daemon must refuse it up front and report it (status `degraded`), and the gateway
 * must keep starting with the last good skill (it is SIGKILLed here to force a start).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { until } from "../../test/e2e/harness.ts";
import { eventsSince, healthCheck, ms, waitEvent, type EventRow } from "./observe.ts";
import { ACC, BOOT_MS, RT, type RealSession } from "./real-session.ts";
import { recover, sharedRealCase, signalGateway } from "./runner.ts";

const GOOD = "faults-notes";
const SKILL_MD = `---\nname: ${GOOD}\ndescription: Note-taking approved by the fleet (fault suite).\n---\n# Notes\n`;

/** Set the account's skills and poll now (SIGHUP): the shared session polls only every 60 s. */
function serve(s: RealSession, skills: { name: string; files: { path: string; content: string }[] }[]): string {
  const { version } = s.cp!.setSkills(ACC, skills);
  s.daemon.proc.kill("SIGHUP");
  return version;
}

/** Wait for the gateway to be ready again after a skills change restarted it (BOOT_MS at most). */
async function readyAfter(s: RealSession, sinceMs: number): Promise<void> {
  await until("the gateway ready again", () => eventsSince(s.site, sinceMs).some((e: EventRow) => e.state === "ready"), BOOT_MS, 200);
}

export const skillsUnwritable = sharedRealCase({
  id: "skills-unwritable",
  fault: "Unwritable skills manifest",
  how:
    "After a good skill is installed, the reference control plane serves a skills manifest with files `a` and `a/b` " +
    "(a file that is also a directory: it cannot be written), and the daemon is sent SIGHUP to poll at once. " +
    "Injected at that SIGHUP; detected at /health control-plane:sync naming the refused manifest. The gateway is then " +
    "SIGKILLed to force a start; serving again = a fresh turn done. The good manifest is restored afterwards.",
  async measure(s) {
    const skillsDir = join(s.site.dataDir, "gateway", "workspace", "skills");
    const goodAt = Date.now();
    serve(s, [{ name: GOOD, files: [{ path: "SKILL.md", content: SKILL_MD }] }]);
    await until("the good skill in the workspace", () => existsSync(join(skillsDir, GOOD, "SKILL.md")), BOOT_MS, 200);
    await readyAfter(s, goodAt);
    const injectAt = Date.now();
    const bad = serve(s, [{ name: "broken", files: [{ path: "SKILL.md", content: "x" }, { path: "a", content: "x" }, { path: "a/b", content: "x" }] }]);
    let output = "";
    const detectedAt = await until("the refusal in /health", async () => {
      const c = await healthCheck(s.site, "control-plane:sync");
      output = String(c?.output ?? "");
      return output.includes(`skills manifest ${bad} rejected`) ? Date.now() : undefined;
    }, 60_000, 100).catch(() => null);
    const report = await until("a degraded status report", () => {
      const r = s.cp!.latestStatus(RT)?.report;
      return r?.status === "degraded" && r.reason?.includes("rejected") ? r : undefined;
    }, 30_000, 200).catch(() => undefined);
    const { pid, injectAt: killAt } = await signalGateway(s.site, "SIGKILL");
    // /readyz says 200 until the daemon has seen the exit.
    await waitEvent(s.site, killAt, "the exit", (e) => e.state === "stopped" || e.state === "exited", 30_000);
    const { again, verdict } = await recover(s.site, "skills-fresh", []);
    const offered = s.model.requests.at(-1)?.system.includes(GOOD) ?? false;
    const installed = readdirSync(skillsDir).join(", ");
    const failedStarts = eventsSince(s.site, injectAt).filter((e) => (e.reason ?? "").startsWith("cannot start gateway")).length;
    const restoreAt = Date.now();
    serve(s, [{ name: GOOD, files: [{ path: "SKILL.md", content: SKILL_MD }] }]);
    await until("the refusal cleared", async () => !String((await healthCheck(s.site, "control-plane:sync"))?.output ?? "").includes("rejected"), 60_000, 200).catch(() => undefined);
    await readyAfter(s, restoreAt).catch(() => undefined);
    return {
      injectAt,
      detectedAt,
      servingAt: again.doneAt,
      verdict,
      notes: [
        detectedAt === null ? "NOT DETECTED in /health" : `/health: "${output.slice(0, 160)}"`,
        report ? `status report ${report.status}: "${(report.reason ?? "").slice(0, 120)}"` : "NO degraded status report",
        `gateway ${pid} SIGKILLed; ready and serving ${ms(again.doneAt - injectAt)} ms after the injection`,
        `${failedStarts} failed gateway starts; workspace skills: ${installed}; the good skill ${offered ? "offered" : "NOT offered"} in the model's system prompt`,
      ],
    };
  },
});
