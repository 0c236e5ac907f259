/**
 * What the gateway is started with, prepared before every start: the runtime (looked up again
 * each time, so one installed later is picked up), the settings with the provider keys from the
 * control plane applied, the approved skills written into the workspace, openclaw.json rendered.
 * Provider secrets and the skills manifest are kept as last applied in 0600 files in the daemon's
 * secrets directory (core/data-dir.ts), never in SQLite and never in the gateway's tree. With the
 * boundary on (gateway-user.ts), the gateway's tree is shared with its user (shared-tree.ts) and
 * the spec says to run it as that user.
 */
import { link, lstat, mkdir, readFile, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "pino";
import type { Settings } from "../config/schema.ts";
import type { AuditLog } from "../core/audit.ts";
import { gatewayTreeDirs, type GatewayLayout } from "../core/data-dir.ts";
import { UnavailableError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs-atomic.ts";
import type { GatewayRuntime } from "../runtime/resolve.ts";
import type { Secrets, SkillsManifest } from "../sync/contract.ts";
import type { LaunchSpec } from "./child.ts";
import { BOUNDARY_UNSET, boundaryUnavailable, type Boundary } from "./gateway-user.ts";
import { closeToOthers, handOverTree, isHandedOver, letOthersPass } from "./shared-tree.ts";
import { gatewayArgs, gatewayConfigText, gatewayEnv, providerEndpoints } from "./gateway-config.ts";
import { keyPrints, loadKeyPrints, printsAfterStart, rotatedProviders, storeKeyPrints } from "./launched-keys.ts";
import { writeGatewayFiles, type GatewayFilesRequest, type GatewayFilesResult } from "./gateway-files.ts";
import { runSelfAsGateway, type SelfCommand } from "./as-gateway.ts";
import type { SpawnFn } from "../core/os-process.ts";
import { applyProviderSecrets, loadStoredSecrets, secretValues, storeSecrets } from "./provider-secrets.ts";
import { launchInputsChanged } from "../sync/secrets-change.ts";
import { verifySkillsManifest } from "../sync/skills-manifest.ts";
import { loadStoredSkills } from "./skills.ts";
import { configRewriteDetail } from "./config-diff.ts";

/** Options of {@link GatewayLaunch}. */
export type GatewayLaunchOptions = {
  settings: Settings;
  layout: GatewayLayout;
  /**
   * Where provider secrets and the skills manifest are kept (core/data-dir.ts), and the
   * fingerprints of the keys last started with (launched-keys.ts; absent: cooldowns are never cleared).
   */
  files: { providerSecrets: string; skillsManifest: string; launchedKeys?: string };
  gatewayToken: string;
  /** The daemon's environment, filtered into the gateway's (gateway-config.ts `gatewayEnv`). */
  parentEnv: NodeJS.ProcessEnv;
  /** Resolve the OpenClaw runtime. @throws UnavailableError when none is usable */
  findRuntime: () => Promise<GatewayRuntime>;
  /** The runtime found at daemon start ({@link lookUpRuntime}), if any. */
  runtime?: GatewayRuntime | undefined;
  /**
   * Runs before each start once the runtime is found (the full /tmp sweep), with the boundary of
   * this start.
   */
  beforeStart?: (boundary: Boundary) => Promise<void>;
  /**
   * The boundary, looked up again before every start (gateway-user.ts `probeBoundary`), so a user
   * created after the daemon started is picked up. Default: off, not required.
   */
  boundary?: () => Boundary;
  /** The daemon's uid (the owner of what it shares with the gateway's user). */
  selfUid?: number;
  /** How to run this program as the gateway's user (as-gateway.ts); needed with the boundary on. */
  asGateway?: { spawn: SpawnFn; self: SelfCommand };
  /** Set the process umask (main.ts): 0007 while the boundary is on (shared-tree.ts). */
  setUmask?: (mask: number) => void;
  log: Logger;
  /**
   * The audit trail: `config.rewrite` (changed key names) when openclaw.json changes, and
   * `skills.refuse` when approved skills cannot be written. Default: none.
   */
  audit?: AuditLog;
};

/**
 * Look the runtime up at daemon start. A missing one is logged and gives undefined: the gateway
 * is then held, saying why, until one is installed (the supervisor's UnavailableError path),
 * instead of failing the daemon and its unit.
 * @throws anything but UnavailableError
 */
export async function lookUpRuntime(find: () => Promise<GatewayRuntime>, log: Logger): Promise<GatewayRuntime | undefined> {
  try {
    return await find();
  } catch (err) {
    if (!(err instanceof UnavailableError)) throw err;
    log.error({ err: err.message }, "the OpenClaw runtime is not usable; the gateway waits for it");
    return undefined;
  }
}

/** The gateway's launch inputs; `prepare` is the supervisor's prepare step. */
export class GatewayLaunch {
  readonly #o: GatewayLaunchOptions;
  #secrets: Secrets | undefined;
  #skills: SkillsManifest | undefined;
  #runtime: GatewayRuntime | undefined;
  #inputsVersion = 0;
  /** openclaw.json as last written, and the inputs version it was rendered from (the audit's before, when the file cannot be read). */
  #lastConfig: { text: string; inputsVersion: number } | undefined;

  constructor(opts: GatewayLaunchOptions) {
    this.#o = opts;
    this.#runtime = opts.runtime;
  }

  /**
   * Read the stored secrets and skills; an unreadable or invalid file is logged and ignored. A
   * stored manifest that fails verification (stored by a daemon that checked less) is ignored too,
   * so the poller fetches the manifest again and reports it if it is still bad.
   */
  async loadStored(): Promise<void> {
    const { files, log } = this.#o;
    await this.#moveLegacySecrets();
    this.#secrets = await loadStoredSecrets(files.providerSecrets).catch((e) => (log.error({ err: (e as Error).message }, "ignoring stored secrets"), undefined));
    const skills = await loadStoredSkills(files.skillsManifest).catch((e) => (log.error({ err: (e as Error).message }, "ignoring stored skills"), undefined));
    const problems = skills ? verifySkillsManifest(skills) : [];
    if (problems.length > 0) log.error({ skillsVersion: skills?.version, problems }, "ignoring stored skills: they cannot be written");
    this.#skills = problems.length > 0 ? undefined : skills;
  }

  /**
   * Daemons before issue 11 kept the secrets files inside the gateway's tree, which a gateway
   * running as its own user owns: move them to the daemon's secrets directory (once; a file
   * already there wins, and the old copy is removed). Failures are logged; loading goes on.
   */
  async #moveLegacySecrets(): Promise<void> {
    const { files, layout, log } = this.#o;
    for (const to of [files.providerSecrets, files.skillsManifest]) {
      const from = join(layout.root, basename(to));
      if (from === to) continue;
      try {
        // Only the daemon's own file, and no other name for it: a file a gateway running as its
        // own user planted there, or a hard link it keeps, would let it write the daemon's secrets.
        const st = await lstat(from);
        if (!st.isFile() || st.nlink !== 1 || st.uid !== (this.#o.selfUid ?? process.getuid?.())) {
          log.error({ from, uid: st.uid, nlink: st.nlink }, "not moving a secrets file from the gateway's tree: not the daemon's own single file; it is left there, unused");
          continue;
        }
        await mkdir(dirname(to), { recursive: true, mode: 0o700 });
        await link(from, to).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "EEXIST") throw err;
        });
        await rm(from);
        log.info({ from, to }, "moved a secrets file out of the gateway's tree");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") log.error({ err: (err as Error).message, from, to }, "cannot move a secrets file out of the gateway's tree");
      }
    }
  }

  /** The runtime found last, if any. */
  get runtime(): GatewayRuntime | undefined {
    return this.#runtime;
  }

  /** Provider secrets from the control plane, as last applied. */
  get secrets(): Secrets | undefined {
    return this.#secrets;
  }

  /** The skills manifest from the control plane, as last applied. */
  get skills(): SkillsManifest | undefined {
    return this.#skills;
  }

  /**
   * The version of the launch inputs in memory: 0 at load, one more after each {@link store}.
   * A spec from {@link prepare} carries the version it was built from, so the supervisor can tell
   * a gateway started on inputs that a rotation has since replaced.
   */
  get inputsVersion(): number {
    return this.#inputsVersion;
  }

  /** The settings the gateway runs with: the daemon's, with the control plane's provider keys. */
  settings(): Settings {
    return applyProviderSecrets(this.#o.settings, this.#secrets);
  }

  /** Secret values from the control plane, to scrub from the gateway's output. */
  secretValues(): string[] {
    return secretValues(this.#secrets);
  }

  /**
   * Keep new secrets and/or skills: their files are rewritten atomically first, then they apply
   * from the next gateway start (openclaw.json is rendered at start). {@link inputsVersion} moves
   * only when the launch inputs change: not for a new desired OpenClaw version alone
   * (sync/secrets-change.ts), which a gateway in its start need not be restarted for.
   * @throws fs errors (ENOSPC); then nothing changes in memory
   */
  async store(change: { secrets?: Secrets | undefined; skills?: SkillsManifest | undefined }): Promise<void> {
    const { files } = this.#o;
    const changed = launchInputsChanged(this.#secrets, change);
    if (change.secrets) await storeSecrets(files.providerSecrets, change.secrets);
    if (change.skills) await writeFileAtomic(files.skillsManifest, `${JSON.stringify(change.skills)}\n`, 0o600);
    if (change.secrets) this.#secrets = change.secrets;
    if (change.skills) this.#skills = change.skills;
    if (changed) this.#inputsVersion += 1;
  }

  /**
   * The boundary for the next start: held (UnavailableError) when it is required and off;
   * otherwise, when on, the umask 0007, the data directory passable and the gateway's tree its
   * user's (handed over here when the daemon runs as root; else it must have been, by install.sh).
   * @throws UnavailableError ERR_GATEWAY_USER; fs errors on the tree's root
   */
  async #boundary(): Promise<Boundary> {
    const { layout, log } = this.#o;
    const b = this.#o.boundary?.() ?? BOUNDARY_UNSET;
    const held = boundaryUnavailable(b);
    if (held) throw held;
    if (!b.on) return b;
    const selfUid = this.#o.selfUid ?? 0;
    this.#o.setUmask?.(0o007);
    await letOthersPass(dirname(layout.root), selfUid);
    const closed = await closeToOthers(dirname(layout.root), selfUid, [basename(layout.root), "runtime"]);
    if (closed.length > 0) log.warn({ closed }, "took the permissions for others off files in the data directory, which the gateway's user passes through");
    if (!(await isHandedOver(layout.root, b.user))) {
      if (selfUid !== 0) {
        throw new UnavailableError(
          "ERR_GATEWAY_TREE",
          `${layout.root} does not belong to ${b.user.name} yet (a tree from before the gateway had its own user): run 'agent-supervisor gateway-user hand-over' as root, or install.sh again, which does`,
        );
      }
      const r = await handOverTree(gatewayTreeDirs(layout), b.user, (await stat(dirname(layout.root))).uid);
      log.info({ root: layout.root, user: b.user.name, changed: r.changed, skipped: r.skipped.slice(0, 20) }, "handed the gateway's tree over to its user");
    }
    return b;
  }

  /**
   * Write the gateway's files: as its user with the boundary on (as-gateway.ts), else here.
   * @throws AsGatewayError, UnavailableError (the boundary on, no way to run as the user), fs errors
   */
  async #writeFiles(b: Boundary, req: GatewayFilesRequest): Promise<GatewayFilesResult> {
    if (!b.on) return writeGatewayFiles(req);
    const as = this.#o.asGateway;
    if (!as) throw new UnavailableError("ERR_GATEWAY_USER", "the daemon cannot run commands as the gateway's user here (no self command)");
    return (await runSelfAsGateway(as, b, "writing the gateway's files", ["gateway-files"], { stdin: JSON.stringify(req) })) as GatewayFilesResult;
  }

  /** openclaw.json's text before this start: the file (it may have been edited, or rewritten by `openclaw doctor --fix`), else as last written here. */
  async #previousConfig(): Promise<string | undefined> {
    try {
      return await readFile(this.#o.layout.configPath, "utf8");
    } catch {
      return this.#lastConfig?.text;
    }
  }

  /** Record a rewrite of openclaw.json (key names only); by the control plane when its secrets or skills were stored since the last one. */
  #auditRewrite(before: string | undefined, after: string, inputsVersion: number): void {
    const detail = configRewriteDetail(before, after);
    const rotated = this.#lastConfig !== undefined && this.#lastConfig.inputsVersion !== inputsVersion;
    this.#lastConfig = { text: after, inputsVersion };
    if (detail === undefined) return;
    const cause = rotated ? "new secrets or skills from the control plane, before the gateway starts" : "rendered from the settings before the gateway starts";
    this.#o.audit?.record({ actor: rotated ? "control-plane" : "daemon", action: "config.rewrite", cause, detail: { path: this.#o.layout.configPath, ...detail } });
  }

  /**
   * The prepare step, before every spawn: the boundary, the runtime, `beforeStart`, skills,
   * openclaw.json, and the stale auth cooldowns of providers whose key was rotated since the last
   * start (auth-cooldown.ts; the gateway is stopped now).
   * Skills that cannot be written (verification refuses them before they are stored, so this is
   * a disk error) are logged and the gateway starts with the skills already in its workspace:
   * a skill is not worth a gateway that does not start. A cooldown that cannot be cleared is
   * logged and tried again at the next start.
   * @throws UnavailableError without a runtime or with a required boundary off; ConfigError (no
   *   provider); fs errors (openclaw.json, the gateway's tree)
   */
  async prepare(): Promise<LaunchSpec> {
    const { layout, gatewayToken, parentEnv, log, files } = this.#o;
    const boundary = await this.#boundary();
    const rt = (this.#runtime = await this.#o.findRuntime());
    await this.#o.beforeStart?.(boundary);
    // Read together, in one tick: the version names exactly the secrets and skills used below.
    const inputsVersion = this.#inputsVersion;
    const gs = this.settings();
    const skills = this.#skills;
    const prints = keyPrints(providerEndpoints(gs));
    const last = files.launchedKeys ? await loadKeyPrints(files.launchedKeys) : undefined;
    const rotated = files.launchedKeys ? rotatedProviders(last, prints) : [];
    const config = gatewayConfigText(gs, layout);
    const before = await this.#previousConfig();
    const written = await this.#writeFiles(boundary, { layout, config, skills, clearCooldowns: rotated.length > 0 ? rotated : undefined });
    this.#auditRewrite(before, config, inputsVersion);
    if (written.skillsError) {
      log.error({ err: written.skillsError, skillsVersion: skills?.version }, "cannot write the skills; the gateway starts with the skills it had");
      this.#o.audit?.record({ actor: "daemon", action: "skills.refuse", cause: "the approved skills cannot be written into the workspace; the gateway starts with the skills it had", detail: { version: skills?.version ?? null, error: written.skillsError.slice(0, 300) } });
    }
    if (written.cooldownsError) log.error({ err: written.cooldownsError, providers: rotated }, "cannot clear the gateway's auth cooldown of the rotated provider keys; trying again at the next start");
    for (const c of written.cooldownsCleared ?? []) log.info({ providers: c.providers, db: c.db }, "cleared the gateway's stale auth cooldown of rotated provider keys");
    if (files.launchedKeys) {
      await storeKeyPrints(files.launchedKeys, printsAfterStart(last, prints, rotated, written.cooldownsError === undefined)).catch((err: Error) =>
        log.warn({ err: err.message }, "cannot record which provider keys the gateway starts with"),
      );
    }
    const runAs = boundary.on ? { user: boundary.user, setpriv: boundary.setpriv } : undefined;
    return { command: rt.nodePath, args: gatewayArgs(rt.entryPath, gs), env: gatewayEnv(gs, layout, gatewayToken, parentEnv), cwd: layout.root, inputsVersion, runAs };
  }
}
