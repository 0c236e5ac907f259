import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { heavyLockMode, heavyOrder, type FileKind } from "./test/e2e/heavy-order.ts";

/** What a file is for the order: the droplet test, a heavy file (by its lock mode) or a light one. */
function kindOf(f: TestSpecification): FileKind {
  if (f.moduleId.includes("/test/droplet/")) return "droplet";
  return heavyLockMode(readFileSync(f.moduleId, "utf8")) ?? "light";
}

/**
 * The droplet test starts first, so it runs beside the rest instead of after it; then the files
 * that boot a real gateway on this host (test/e2e/heavy-lock.ts), the light files filling the
 * gaps between the exclusive ones (test/e2e/heavy-order.ts).
 */
class HeavyOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return heavyOrder(await super.sort(files), kindOf);
  }
}

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Installs the real OpenClaw runtime (cached under .cache/) before the end-to-end tests.
    globalSetup: ["test/e2e/global-setup.ts"],
    pool: "forks",
    // Two files at once (the default is one on a 2-core host): see HeavyOrder and heavy-lock.ts.
    maxWorkers: 2,
    sequence: { sequencer: HeavyOrder },
    testTimeout: 30_000,
    hookTimeout: 120_000,
    restoreMocks: true,
  },
});
