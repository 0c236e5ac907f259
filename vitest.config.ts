import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The droplet test (test/droplet/: a container under systemd-nspawn, ~7 minutes, mostly waiting on
 * systemd and cloud-init) starts first, so it runs beside the rest instead of after it. The files
 * that boot a real gateway on this host still run one at a time (test/e2e/heavy-lock.ts).
 */
class DropletFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const droplet = (f: TestSpecification) => f.moduleId.includes("/test/droplet/");
    return [...sorted.filter(droplet), ...sorted.filter((f) => !droplet(f))];
  }
}

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Installs the real OpenClaw runtime (cached under .cache/) before the end-to-end tests.
    globalSetup: ["test/e2e/global-setup.ts"],
    pool: "forks",
    // Two files at once (the default is one on a 2-core host): see DropletFirst and heavy-lock.ts.
    maxWorkers: 2,
    sequence: { sequencer: DropletFirst },
    testTimeout: 30_000,
    hookTimeout: 120_000,
    restoreMocks: true,
  },
});
