import pino from "pino";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/core/clock.ts";
import { sha256Hex } from "../../src/sync/skills-manifest.ts";
import { statusReportSchema, type Secrets, type SkillsManifest } from "../../src/sync/contract.ts";
import { SecretsPoller, type SecretsChange, type SecretsSource } from "../../src/sync/secrets-poller.ts";
import type { AuditInput } from "../../src/core/audit.ts";

const ids = { accountId: "a", runtimeId: "r" };
const secretsV = (version: string, key = `sk-${version}`): Secrets => ({ ...ids, version, providers: { compat: { baseUrl: "http://127.0.0.1:1/v1", apiKey: key, model: "m" } } });
const skillsV = (version: string, content = "# s"): SkillsManifest => ({ ...ids, version, skills: [{ name: "s", files: [{ path: "SKILL.md", content, sha256: sha256Hex(content) }] }] });

function harness(source: Partial<SecretsSource>, current: { secretsVersion?: string; skillsVersion?: string } = {}, apply?: (c: SecretsChange, stored: () => void) => Promise<void>) {
  const applied: SecretsChange[] = [];
  const audit: AuditInput[] = [];
  const problems: (string | null)[] = [];
  const etags: (string | undefined)[] = [];
  const full: SecretsSource = {
    getSecrets: async (etag) => {
      etags.push(etag);
      return source.getSecrets ? source.getSecrets(etag) : { kind: "unchanged" };
    },
    getSkills: async () => (source.getSkills ? source.getSkills() : skillsV(current.skillsVersion ?? "0")),
  };
  const poller = new SecretsPoller({
    source: full, clock: systemClock, random: () => 0, log: pino({ level: "silent" }), intervalMs: 60_000, backoffMaxMs: 1000,
    current, apply: apply ?? (async (c) => void applied.push(c)), onProblem: (p) => void problems.push(p), audit: { record: (e) => void audit.push(e) },
  });
  return { poller, applied, problems, etags, audit };
}

describe("SecretsPoller.pollOnce", () => {
  it("applies new secrets once and then sends the version as If-None-Match", async () => {
    let doc = secretsV("1");
    const h = harness({ getSecrets: async (etag) => (etag === `"${doc.version}"` ? { kind: "unchanged" } : { kind: "changed", secrets: doc, etag: `"${doc.version}"` }) }, { skillsVersion: "0" });
    expect(await h.poller.pollOnce()).toBe(true);
    expect(await h.poller.pollOnce()).toBe(true);
    expect(h.applied).toEqual([{ secrets: doc }]);
    expect(h.etags).toEqual([undefined, '"1"']);
    doc = secretsV("2");
    await h.poller.pollOnce();
    expect(h.applied.at(-1)).toEqual({ secrets: doc });
    expect(h.problems.at(-1)).toBeNull();
  });

  it("a missing secret is a reported problem, nothing is applied", async () => {
    const h = harness({ getSecrets: async () => ({ kind: "none" }) }, { skillsVersion: "0" });
    expect(await h.poller.pollOnce()).toBe(true);
    expect(h.applied).toEqual([]);
    expect(h.problems.at(-1)).toMatch(/no secrets for this runtime/);
  });

  it("secrets naming no provider are refused", async () => {
    const empty: Secrets = { ...ids, version: "9", providers: {} };
    const h = harness({ getSecrets: async () => ({ kind: "changed", secrets: empty, etag: '"9"' }) }, { skillsVersion: "0" });
    await h.poller.pollOnce();
    expect(h.applied).toEqual([]);
    expect(h.problems.at(-1)).toMatch(/names no model provider/);
  });

  it("a skills manifest with a bad checksum is refused; a good one is applied", async () => {
    const bad: SkillsManifest = { ...skillsV("2"), skills: [{ name: "s", files: [{ path: "SKILL.md", content: "evil", sha256: sha256Hex("good") }] }] };
    let manifest = bad;
    const h = harness({ getSkills: async () => manifest }, { skillsVersion: "1" });
    await h.poller.pollOnce();
    expect(h.applied).toEqual([]);
    expect(h.problems.at(-1)).toMatch(/skills manifest 2 rejected/);
    manifest = skillsV("3");
    await h.poller.pollOnce();
    expect(h.applied).toEqual([{ skills: manifest }]);
  });

  it("an unwritable manifest (a file that is another's directory) is refused, its reason fits a status report", async () => {
    const f = (path: string) => ({ path, content: "x", sha256: sha256Hex("x") });
    const long = (i: number) => `${String(i).padStart(3, "0")}${"n".repeat(297)}`;
    const unwritable: SkillsManifest = { ...skillsV("2"), skills: [{ name: "s", files: [f("a"), f("a/b"), ...[1, 2, 3, 4, 5, 6].map((i) => f(`${long(i)}/x`))] }] };
    const h = harness({ getSecrets: async () => ({ kind: "none" }), getSkills: async () => unwritable }, { skillsVersion: "1" });
    await h.poller.pollOnce();
    expect(h.applied).toEqual([]);
    expect(h.problems.at(-1)).toMatch(/skills manifest 2 rejected: skill s: file a is also the directory of file a\/b/);
    expect(h.problems.at(-1)!.length).toBeLessThanOrEqual(statusReportSchema.shape.reason.unwrap().maxLength!);
  });

  it("a read error is a problem and returns false; a failed apply is retried next time", async () => {
    const h = harness({ getSecrets: async () => { throw Object.assign(new Error("connection refused"), { code: "ERR_CP_NETWORK" }); } });
    expect(await h.poller.pollOnce()).toBe(false);
    expect(h.problems.at(-1)).toMatch(/cannot read secrets\/skills: connection refused/);
    let fail = true;
    const doc = secretsV("5");
    const applied: SecretsChange[] = [];
    const poller = new SecretsPoller({
      source: { getSecrets: async () => ({ kind: "changed", secrets: doc, etag: '"5"' }), getSkills: async () => skillsV("0") },
      clock: systemClock, random: () => 0, log: pino({ level: "silent" }), intervalMs: 60_000, backoffMaxMs: 1000,
      current: { skillsVersion: "0" },
      apply: async (c) => { if (fail) throw new Error("disk full"); applied.push(c); },
      onProblem: () => {},
    });
    expect(await poller.pollOnce()).toBe(false);
    fail = false;
    expect(await poller.pollOnce()).toBe(true);
    expect(applied).toEqual([{ secrets: doc }]);
  });

  it("run() polls again on refresh() and stops on abort", async () => {
    let calls = 0;
    const h = harness({ getSecrets: async () => { calls++; return { kind: "unchanged" }; } }, { skillsVersion: "0" });
    const ac = new AbortController();
    const running = h.poller.run(ac.signal);
    await new Promise((r) => setTimeout(r, 20));
    h.poller.refresh();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(2);
    ac.abort();
    await running;
  });
});

describe("SecretsPoller's audit trail", () => {
  it("records each version applied with the one it replaced, by the control plane, never a key", async () => {
    let doc = secretsV("1", "sk-SECRET-one");
    const h = harness({ getSecrets: async () => ({ kind: "changed", secrets: doc, etag: `"${doc.version}"` }), getSkills: async () => skillsV("5") }, { skillsVersion: "4" });
    await h.poller.pollOnce();
    doc = secretsV("2", "sk-SECRET-two");
    await h.poller.pollOnce();
    expect(h.audit.map((e) => [e.action, e.actor, e.detail?.version, e.detail?.previousVersion])).toEqual([
      ["secrets.apply", "control-plane", "1", null],
      ["skills.apply", "control-plane", "5", "4"],
      ["secrets.apply", "control-plane", "2", "1"],
    ]);
    expect(h.audit[0]!.detail).toMatchObject({ providers: ["compat"] });
    expect(JSON.stringify(h.audit)).not.toContain("SECRET");
  });

  it("records a refused version once, however often it is polled", async () => {
    const empty: Secrets = { ...ids, version: "9", providers: {} };
    const bad: SkillsManifest = { ...skillsV("2"), skills: [{ name: "s", files: [{ path: "SKILL.md", content: "evil", sha256: sha256Hex("good") }] }] };
    const h = harness({ getSecrets: async () => ({ kind: "changed", secrets: empty, etag: '"9"' }), getSkills: async () => bad }, { skillsVersion: "0" });
    for (let i = 0; i < 3; i++) await h.poller.pollOnce();
    expect(h.audit.map((e) => [e.action, e.detail?.version])).toEqual([
      ["secrets.refuse", "9"],
      ["skills.refuse", "2"],
    ]);
    expect(h.audit[1]!.detail).toMatchObject({ count: 1 });
  });

  it("a version that cannot be stored is recorded refused once, and applied once it can be", async () => {
    let fail = true;
    const h = harness({ getSecrets: async () => ({ kind: "changed", secrets: secretsV("3"), etag: '"3"' }) }, { skillsVersion: "0" }, async () => {
      if (fail) throw Object.assign(new Error("no space"), { code: "ENOSPC" });
    });
    await h.poller.pollOnce();
    await h.poller.pollOnce();
    fail = false;
    await h.poller.pollOnce();
    expect(h.audit.map((e) => [e.action, e.cause])).toEqual([
      ["secrets.refuse", "secrets version 3 could not be stored: ENOSPC; retried at the next poll"],
      ["secrets.apply", "secrets version 3 from the control plane"],
    ]);
  });

  it("records the apply when the change is stored, before the restart it causes", async () => {
    const order: string[] = [];
    const h = harness({ getSecrets: async () => ({ kind: "changed", secrets: secretsV("4"), etag: '"4"' }) }, { skillsVersion: "0" }, async (_c, stored) => {
      stored();
      order.push(`restart after ${h.audit.map((e) => e.action).join(",")}`);
    });
    await h.poller.pollOnce();
    expect(order).toEqual(["restart after secrets.apply"]);
    expect(h.audit.map((e) => e.action)).toEqual(["secrets.apply"]);
  });
});
