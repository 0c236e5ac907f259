/** launchInputsChanged (sync/secrets-change.ts): which control-plane changes restart the gateway. Pure, table-driven. */
import { describe, expect, it } from "vitest";
import type { Secrets, SkillsManifest } from "../../src/sync/contract.ts";
import { launchInputsChanged } from "../../src/sync/secrets-change.ts";
import type { SecretsChange } from "../../src/sync/secrets-poller.ts";

const base: Secrets = { accountId: "a", runtimeId: "r", version: "1", providers: { openai: { apiKey: "sk-one", model: "gpt-x" } }, gateway: { openclawVersion: "2026.9.6" } };
const skills: SkillsManifest = { accountId: "a", runtimeId: "r", version: "s1", skills: [] };
const { gateway: _g, ...noGateway } = base;

const cases: { name: string; before: Secrets | undefined; change: SecretsChange; changed: boolean }[] = [
  { name: "nothing in the change", before: base, change: {}, changed: false },
  { name: "only the desired OpenClaw version (and the document version)", before: base, change: { secrets: { ...base, version: "2", gateway: { openclawVersion: "2026.9.7" } } }, changed: false },
  { name: "a desired version named for the first time", before: noGateway, change: { secrets: { ...noGateway, version: "2", gateway: { openclawVersion: "2026.9.7" } } }, changed: false },
  { name: "the desired version dropped", before: base, change: { secrets: { ...noGateway, version: "2" } }, changed: false },
  { name: "the same document under a new version", before: base, change: { secrets: { ...base, version: "2" } }, changed: false },
  { name: "a new key", before: base, change: { secrets: { ...base, version: "2", providers: { openai: { apiKey: "sk-two", model: "gpt-x" } } } }, changed: true },
  { name: "a new key and a new desired version", before: base, change: { secrets: { ...base, version: "2", providers: { openai: { apiKey: "sk-two", model: "gpt-x" } }, gateway: { openclawVersion: "2026.9.7" } } }, changed: true },
  { name: "a new model", before: base, change: { secrets: { ...base, version: "2", providers: { openai: { apiKey: "sk-one", model: "gpt-y" } } } }, changed: true },
  { name: "new skills", before: base, change: { skills }, changed: true },
  { name: "new skills and only a new desired version", before: base, change: { secrets: { ...base, version: "2", gateway: { openclawVersion: "2026.9.7" } }, skills }, changed: true },
  { name: "no secrets stored before", before: undefined, change: { secrets: base }, changed: true },
];

describe("launchInputsChanged", () => {
  it.each(cases)("$name: $changed", ({ before, change, changed }) => {
    expect(launchInputsChanged(before, change)).toBe(changed);
  });

  it("ignores key order and keys holding undefined, as a stored (JSON) document has them", () => {
    const reordered: Secrets = { gateway: { openclawVersion: "2026.9.7" }, providers: { openai: { model: "gpt-x", apiKey: "sk-one" }, moonshot: undefined }, version: "2", runtimeId: "r", accountId: "a" };
    expect(launchInputsChanged(base, { secrets: reordered })).toBe(false);
  });
});
