/**
 * Per-runtime and per-account state of the reference control plane: registrations, status
 * reports (latest plus a bounded history), secrets documents and skill manifests, each versioned
 * by a counter that every write bumps.
 */
import { createHash } from "node:crypto";
import { MAX_RESPONSE_BYTES, type Secrets, type SkillsManifest, type StatusReport } from "../../sync/contract.ts";
import { ControlPlaneError, iso } from "./http.ts";
import type { CpDb } from "./store_db.ts";

/** A registered runtime. */
export type RuntimeRecord = { runtimeId: string; accountId: string };

/** A stored status report and when it arrived (RFC 3339). */
export type StoredStatus = { receivedAt: string; report: StatusReport };

/** One skill as an admin supplies it; the server adds each file's sha256. */
export type SkillInput = { name: string; files: { path: string; content: string }[] };

/** Lowercase hex SHA-256 of the UTF-8 bytes of `content` (the contract's skill file digest). */
export function sha256Hex(content: string): string {
  return createHash("sha256").update(content, "utf8").digest("hex");
}

/** Registrations, status, secrets and skills. `statusHistory` bounds the reports kept per runtime. */
export class RuntimeRegistry {
  readonly #db: CpDb;
  readonly #statusHistory: number;

  constructor(db: CpDb, opts: { statusHistory: number }) {
    this.#db = db;
    this.#statusHistory = opts.statusHistory;
  }

  /** Register (or move) `runtimeId` as a runtime of `accountId`. */
  register(r: RuntimeRecord, nowMs: number): void {
    this.#db
      .prepare(`INSERT INTO runtimes (runtime_id, account_id, registered_at) VALUES (?, ?, ?) ON CONFLICT(runtime_id) DO UPDATE SET account_id = excluded.account_id`)
      .run(r.runtimeId, r.accountId, nowMs);
  }

  /** The registration of `runtimeId`, or undefined. */
  get(runtimeId: string): RuntimeRecord | undefined {
    return this.#db.prepare(`SELECT runtime_id AS runtimeId, account_id AS accountId FROM runtimes WHERE runtime_id = ?`).get(runtimeId) as RuntimeRecord | undefined;
  }

  /** Every registration, by runtime id. */
  list(): RuntimeRecord[] {
    return this.#db.prepare(`SELECT runtime_id AS runtimeId, account_id AS accountId FROM runtimes ORDER BY runtime_id`).all() as RuntimeRecord[];
  }

  /** The registration of `runtimeId`. @throws ControlPlaneError UNKNOWN_RUNTIME */
  mustGet(runtimeId: string): RuntimeRecord {
    const r = this.get(runtimeId);
    if (r === undefined) throw new ControlPlaneError("UNKNOWN_RUNTIME", `runtime ${runtimeId} is not registered`);
    return r;
  }

  /** Keep `report` as the latest of its runtime, dropping reports beyond the history bound. */
  recordStatus(report: StatusReport, nowMs: number): void {
    this.#db.transaction(() => {
      this.#db.prepare(`INSERT INTO status_reports (runtime_id, body, received_at) VALUES (?, ?, ?)`).run(report.runtimeId, JSON.stringify(report), nowMs);
      this.#db
        .prepare(`DELETE FROM status_reports WHERE runtime_id = ? AND id NOT IN (SELECT id FROM status_reports WHERE runtime_id = ? ORDER BY id DESC LIMIT ?)`)
        .run(report.runtimeId, report.runtimeId, this.#statusHistory);
    })();
  }

  /** Up to `limit` status reports of `runtimeId`, newest first. */
  statusHistory(runtimeId: string, limit = this.#statusHistory): StoredStatus[] {
    const rows = this.#db.prepare(`SELECT body, received_at FROM status_reports WHERE runtime_id = ? ORDER BY id DESC LIMIT ?`).all(runtimeId, limit) as { body: string; received_at: number }[];
    return rows.map((r) => ({ receivedAt: iso(r.received_at), report: JSON.parse(r.body) as StatusReport }));
  }

  /** Replace the runtime's secrets (a rotation) and bump their version. @returns the new version */
  setSecrets(runtimeId: string, providers: Secrets["providers"] | null, nowMs: number, gateway?: Secrets["gateway"]): { version: string } {
    const row = this.#db
      .prepare(
        `INSERT INTO secrets (runtime_id, version, providers, gateway, updated_at) VALUES (?, 1, ?, ?, ?)
         ON CONFLICT(runtime_id) DO UPDATE SET version = version + 1, providers = excluded.providers, gateway = excluded.gateway, updated_at = excluded.updated_at
         RETURNING version`,
      )
      .get(runtimeId, providers === null ? null : JSON.stringify(providers), gateway === undefined ? null : JSON.stringify(gateway), nowMs) as { version: number };
    return { version: String(row.version) };
  }

  /** The runtime's current secrets, or undefined when none are set (or they were cleared). */
  secrets(runtimeId: string): { version: string; providers: Secrets["providers"]; gateway?: Secrets["gateway"] } | undefined {
    const row = this.#db.prepare(`SELECT version, providers, gateway FROM secrets WHERE runtime_id = ?`).get(runtimeId) as { version: number; providers: string | null; gateway: string | null } | undefined;
    if (row === undefined || row.providers === null) return undefined;
    const gateway = row.gateway === null ? {} : { gateway: JSON.parse(row.gateway) as Secrets["gateway"] };
    return { version: String(row.version), providers: JSON.parse(row.providers) as Secrets["providers"], ...gateway };
  }

  /**
   * The versions a claim answer announces (issue 15): the runtime's secrets version (null when
   * none are set, as GET /secrets answers 404) and its account's skills version ("0" before any).
   */
  versions(r: RuntimeRecord): { secretsVersion: string | null; skillsVersion: string } {
    const s = this.#db.prepare(`SELECT version FROM secrets WHERE runtime_id = ? AND providers IS NOT NULL`).get(r.runtimeId) as { version: number } | undefined;
    const k = this.#db.prepare(`SELECT version FROM skills WHERE account_id = ?`).get(r.accountId) as { version: number } | undefined;
    return { secretsVersion: s === undefined ? null : String(s.version), skillsVersion: k === undefined ? "0" : String(k.version) };
  }

  /**
   * Replace the account's skills, computing each file's sha256, and bump the version.
   * @throws ControlPlaneError BAD_REQUEST for a repeated skill name or file path; TOO_LARGE if the
   *   manifest would exceed MAX_RESPONSE_BYTES
   */
  setSkills(accountId: string, skills: SkillInput[], nowMs: number): { version: string } {
    const names = new Set<string>();
    for (const s of skills) {
      if (names.has(s.name)) throw new ControlPlaneError("BAD_REQUEST", `skill ${s.name} is listed twice`);
      names.add(s.name);
      const paths = new Set(s.files.map((f) => f.path));
      if (paths.size !== s.files.length) throw new ControlPlaneError("BAD_REQUEST", `skill ${s.name} lists a file path twice`);
    }
    const withDigests = skills.map((s) => ({ name: s.name, files: s.files.map((f) => ({ path: f.path, content: f.content, sha256: sha256Hex(f.content) })) }));
    const json = JSON.stringify(withDigests);
    if (Buffer.byteLength(json) + 1024 > MAX_RESPONSE_BYTES) throw new ControlPlaneError("TOO_LARGE", `the manifest would exceed ${MAX_RESPONSE_BYTES} bytes`);
    const row = this.#db
      .prepare(
        `INSERT INTO skills (account_id, version, skills, updated_at) VALUES (?, 1, ?, ?)
         ON CONFLICT(account_id) DO UPDATE SET version = version + 1, skills = excluded.skills, updated_at = excluded.updated_at
         RETURNING version`,
      )
      .get(accountId, json, nowMs) as { version: number };
    return { version: String(row.version) };
  }

  /** The account's skills manifest body; version "0" with no skills until one is set. */
  skills(accountId: string): { version: string; skills: SkillsManifest["skills"] } {
    const row = this.#db.prepare(`SELECT version, skills FROM skills WHERE account_id = ?`).get(accountId) as { version: number; skills: string } | undefined;
    return row === undefined ? { version: "0", skills: [] } : { version: String(row.version), skills: JSON.parse(row.skills) as SkillsManifest["skills"] };
  }
}
