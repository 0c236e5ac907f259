/**
 * The EX_CONFIG repair step: after the gateway exits 78, the supervisor runs
 * `openclaw doctor --fix --yes --non-interactive` once, against the gateway's own state and
 * environment (docs/gateway/embedding.md of the openclaw package), then starts it again.
 */
import type { Logger } from "pino";
import { exitedAndDrained, type SpawnFn } from "../core/os-process.ts";
import { pipeLines, type LaunchSpec } from "./child.ts";
import { commandAsUser } from "./gateway-user.ts";

/** At most this long for one doctor run (ms); then it is killed. */
export const DOCTOR_TIMEOUT_MS = 120_000;

/**
 * Run the doctor with the gateway's command, cwd, environment and user (it repairs the gateway's
 * own state, which must stay the gateway user's). Its output goes to the log line
 * by line, sanitized as the gateway's own (child.ts `pipeLines`): it runs with the gateway's
 * environment, provider keys and token included, and may print them. Never rejects.
 * @param spec how the gateway is started (`args[0]` is the openclaw entry)
 * @param secrets every secret value the daemon knows (the supervisor's `secrets()`), scrubbed from the output
 * @returns its exit code once its output is drained, or null if it was killed or could not be started
 */
export function runOpenclawDoctor(spawn: SpawnFn, spec: LaunchSpec, log: Logger, secrets: readonly string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const run = commandAsUser(spec.runAs, spec.command, [spec.args[0]!, "doctor", "--fix", "--yes", "--non-interactive"]);
    const child = spawn(run.command, run.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: DOCTOR_TIMEOUT_MS,
      // It runs the gateway's code as the gateway's user, which could stop it (SIGSTOP) or make it
      // ignore SIGTERM: only SIGKILL ends it for sure.
      killSignal: "SIGKILL",
    });
    pipeLines(child.stdout, log, "stdout", secrets);
    pipeLines(child.stderr, log, "stderr", secrets);
    let done = false;
    const finish = (code: number | null) => {
      if (!done) resolve(code);
      done = true;
    };
    child.once("error", (err) => {
      log.error({ err: err.message }, "cannot run openclaw doctor");
      finish(null);
    });
    // Its last lines are logged before the supervisor goes on; a grandchild that keeps its output
    // open gets a second, not forever.
    void exitedAndDrained(child, 1_000).then(({ code }) => finish(code));
  });
}
