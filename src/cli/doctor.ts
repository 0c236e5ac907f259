/** `agent-supervisor doctor`: the checks of doctor-checks.ts against this host (exit 0 pass, 1 warn, 2 fail). */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { statfsDiskUsage } from "../health/disk.ts";
import { runtimeSettingsOf } from "../runtime/resolve.ts";
import { resolveRuntimeAfterChanges } from "../runtime/upgrade-journal.ts";
import { dataDirLayout } from "../core/data-dir.ts";
import { providerEndpoints } from "../supervisor/gateway-config.ts";
import { probeBoundary } from "../supervisor/gateway-user.ts";
import { applyProviderSecrets, loadStoredSecrets } from "../supervisor/provider-secrets.ts";
import { probeProvider } from "../watchdogs/provider-probe.ts";
import { cliAuditLog } from "./audit.ts";
import { CONFIG_OPTION, type CliContext } from "./context.ts";
import { doctorExitCode, formatDoctor, nearestExisting, portFree, runDoctorChecks } from "./doctor-checks.ts";

/** How long the doctor waits for one HTTP answer (ms). */
export const DOCTOR_HTTP_TIMEOUT_MS = 10_000;

/** Where install.sh puts the unit. */
export const UNIT_PATH = "/etc/systemd/system/agent-supervisor.service";

/**
 * The unit's `Environment=GATEWAY_USER=` (the shipped unit sets it, not the env file, so doctor
 * run outside the unit does not see it in its settings), or undefined.
 */
export function unitGatewayUser(path = UNIT_PATH): string | undefined {
  try {
    return /^Environment=GATEWAY_USER=(\S+)\s*$/m.exec(readFileSync(path, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** Register `doctor`. */
export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command("doctor")
    .description("check config, data directory, runtime, ports, disk, gateway readiness, the gateway's user, provider keys and the control plane (exit 0 pass, 1 warn, 2 fail)")
    .option(...CONFIG_OPTION)
    .action(async () => {
      const { settings, file, tokenSource } = ctx.load();
      const { fetch, uid } = ctx.host;
      const checks = await runDoctorChecks(settings, file, {
        runtime: () => resolveRuntimeAfterChanges(runtimeSettingsOf(settings)),
        disk: () => statfsDiskUsage(nearestExisting(settings.AGENT_SUPERVISOR_DATA_DIR)),
        portFree,
        httpStatus: async (url, headers) => (await fetch(url, { headers, signal: AbortSignal.timeout(DOCTOR_HTTP_TIMEOUT_MS) })).status,
        uid,
        health: async (url) => (await fetch(url, { signal: AbortSignal.timeout(DOCTOR_HTTP_TIMEOUT_MS) })).json(),
        boundary: () => probeBoundary(settings.GATEWAY_USER ?? unitGatewayUser(), uid, { assumeCapabilities: true }),
        providers: async () => {
          // The keys the gateway would start with: settings, with the control plane's stored secrets over them.
          const stored = await loadStoredSecrets(dataDirLayout(settings.AGENT_SUPERVISOR_DATA_DIR).providerSecrets).catch(() => undefined);
          const eps = providerEndpoints(applyProviderSecrets(settings, stored));
          return Promise.all(eps.map(async (ep) => ({ provider: ep.provider, baseUrl: ep.baseUrl, reading: await probeProvider(ep, fetch) })));
        },
      }, tokenSource);
      ctx.out(formatDoctor(checks));
      const exitCode = doctorExitCode(checks);
      ctx.setExitCode(exitCode);
      const count = (s: string) => checks.filter((c) => c.status === s).length;
      cliAuditLog(ctx, settings).record({
        actor: "operator",
        action: "doctor.run",
        cause: "agent-supervisor doctor",
        detail: { exitCode, pass: count("pass"), warn: count("warn"), fail: count("fail"), notPassing: checks.filter((c) => c.status !== "pass").map((c) => c.name) },
      });
    });
}
