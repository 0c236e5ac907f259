import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

it("README's configuration table is the one generated from the schema", () => {
  const generated = execFileSync(join(ROOT, "bin", "agent-supervisor"), ["--config", "/dev/null", "config", "print", "--reference"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "" },
  }).trim();
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  expect(generated.split("\n").length).toBeGreaterThan(20);
  expect(readme).toContain(generated);
});
