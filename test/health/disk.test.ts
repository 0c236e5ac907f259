import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { statfsDiskUsage } from "../../src/health/disk.ts";

describe("statfsDiskUsage", () => {
  it("reads free and total bytes of a real filesystem", async () => {
    const d = await statfsDiskUsage(tmpdir());
    expect(d.path).toBe(tmpdir());
    expect(d.totalBytes).toBeGreaterThan(0);
    expect(d.freeBytes).toBeGreaterThanOrEqual(0);
    expect(d.freeBytes).toBeLessThanOrEqual(d.totalBytes);
  });

  it("rejects for a missing path", async () => {
    await expect(statfsDiskUsage(join(tmpdir(), "no-such-dir-agent-supervisor"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
