/**
 * The files the gateway needs before each start, in its tree: its directories, openclaw.json and
 * the approved skills; and its stale auth cooldown of providers whose key was rotated
 * (auth-cooldown.ts). Written by whoever runs this: the daemon itself with the boundary off, a
 * child running as the gateway's user with it on (as-gateway.ts, the hidden `gateway-files`
 * command), so that OpenClaw, which tightens its own directories' modes (`doctor --fix` makes its
 * state directory 0700), owns everything in its tree and the daemon never writes there.
 */
import { dirname } from "node:path";
import { mkdir } from "node:fs/promises";
import { z } from "zod";
import type { GatewayLayout } from "../core/data-dir.ts";
import { writeFileAtomic } from "../core/fs-atomic.ts";
import { skillsManifestSchema, type SkillsManifest } from "../sync/contract.ts";
import { clearInlineKeyCooldowns, type ClearedCooldown } from "./auth-cooldown.ts";
import { materializeSkills } from "./skills.ts";

/**
 * What to write (the config already rendered: gateway-config.ts `renderGatewayConfig`), and the
 * providers whose stale auth cooldown to clear because their key was rotated (auth-cooldown.ts).
 */
export type GatewayFilesRequest = { layout: GatewayLayout; config: string; skills?: SkillsManifest | undefined; clearCooldowns?: string[] | undefined };

/**
 * What was written: the skills installed, or why they could not be (the gateway starts with the
 * ones it had); the cooldowns cleared, or why they could not be (the gateway starts anyway).
 */
export type GatewayFilesResult = { skills?: string[]; skillsError?: string; cooldownsCleared?: ClearedCooldown[]; cooldownsError?: string };

const layoutSchema = z.object({
  root: z.string().startsWith("/"),
  homeDir: z.string().startsWith("/"),
  stateDir: z.string().startsWith("/"),
  configPath: z.string().startsWith("/"),
  workspaceDir: z.string().startsWith("/"),
  logFile: z.string().startsWith("/"),
});

/** The request as the hidden command reads it from stdin (strict: it comes from the daemon). */
export const gatewayFilesRequestSchema = z.object({
  layout: layoutSchema,
  config: z.string(),
  skills: skillsManifestSchema.optional(),
  clearCooldowns: z.array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/)).optional(),
});

/**
 * Create the gateway's directories (0770 less the umask), write openclaw.json (0660 less the
 * umask, atomically), clear the rotated providers' cooldowns and materialize the skills. A
 * cooldown or skills failure is reported, not thrown: neither is worth a gateway that does not start.
 * @throws fs errors (ENOSPC, EACCES) for the directories and the config
 */
export async function writeGatewayFiles(req: GatewayFilesRequest): Promise<GatewayFilesResult> {
  const { layout } = req;
  for (const d of [layout.homeDir, layout.stateDir, layout.workspaceDir, dirname(layout.logFile)]) {
    await mkdir(d, { recursive: true, mode: 0o770 });
  }
  await writeFileAtomic(layout.configPath, req.config, 0o660);
  const out: GatewayFilesResult = {};
  if (req.clearCooldowns && req.clearCooldowns.length > 0) {
    try {
      out.cooldownsCleared = await clearInlineKeyCooldowns(layout.stateDir, req.clearCooldowns);
    } catch (err) {
      out.cooldownsError = (err as Error).message;
    }
  }
  if (!req.skills) return out;
  try {
    return { ...out, skills: await materializeSkills(layout.workspaceDir, req.skills) };
  } catch (err) {
    return { ...out, skillsError: (err as Error).message };
  }
}
