import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Installs the real OpenClaw runtime (cached under .cache/) before the end-to-end tests.
    globalSetup: ["test/e2e/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    restoreMocks: true,
  },
});
