/**
 * The EX_CONFIG repair step: after the gateway exits 78, the supervisor runs
 * `openclaw doctor --fix --yes --non-interactive` once, against the gateway's own state and
 * environment (docs/gateway/embedding.md of the openclaw package), then starts it again.
 */
import type { Logger } from "pino";
import type { SpawnFn } from "../core/os-process.ts";
import { sanitizeLine, type LaunchSpec } from "./child.ts";

/** At most this long for one doctor run (ms); then it is killed. */
export const DOCTOR_TIMEOUT_MS = 120_000;

/**
 * Run the doctor with the gateway's command, cwd and environment. Its output goes to the log,
 * line by line and sanitized. Never rejects.
 * @param spec how the gateway is started (`args[0]` is the openclaw entry)
 * @returns its exit code, or null if it was killed or could not be started
 */
export function runOpenclawDoctor(spawn: SpawnFn, spec: LaunchSpec, log: Logger): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(spec.command, [spec.args[0]!, "doctor", "--fix", "--yes", "--non-interactive"], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: DOCTOR_TIMEOUT_MS,
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding("utf8");
      stream.on("data", (d: string) => {
        for (const line of d.split("\n")) if (line.trim()) log.info({ source: "doctor" }, sanitizeLine(line, []));
      });
    }
    child.once("error", (err) => {
      log.error({ err: err.message }, "cannot run openclaw doctor");
      resolve(null);
    });
    child.once("exit", (code) => resolve(code));
  });
}
