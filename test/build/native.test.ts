/** src/store/native.ts outside the single executable: a no-op, plus its atomic extraction. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { extractAtomically, isSingleExecutable, loadNativeSqliteBinding, nativeAddonPath } from "../../src/store/native.ts";
import { openDb } from "../../src/store/db.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "as-native-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("native SQLite addon loader", () => {
  it("does nothing outside a SEA, and openDb still works with its result", () => {
    const dir = tmp();
    expect(isSingleExecutable()).toBe(false);
    const binding = loadNativeSqliteBinding(dir);
    expect(binding).toBeUndefined();
    const db = openDb(join(dir, "x.db"), { nativeBinding: binding });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    expect(readdirSync(dir)).not.toContain("native");
  });

  it("names the file by ABI and content digest", () => {
    const a = nativeAddonPath("/d", new Uint8Array([1, 2, 3]), "137");
    const b = nativeAddonPath("/d", new Uint8Array([1, 2, 4]), "137");
    expect(a).toMatch(/^\/d\/native\/better_sqlite3-137-[0-9a-f]{16}\.node$/);
    expect(basename(a)).not.toBe(basename(b));
  });

  it("extracts atomically, keeps an identical file, and replaces a damaged one", () => {
    const file = join(tmp(), "native", "x.node");
    const bytes = new Uint8Array(Buffer.from("addon bytes"));
    extractAtomically(file, bytes);
    expect(readFileSync(file, "utf8")).toBe("addon bytes");
    const first = statSync(file).ino;
    extractAtomically(file, bytes);
    expect(statSync(file).ino).toBe(first);
    rmSync(file);
    writeFileSync(file, "trunc");
    extractAtomically(file, bytes);
    expect(readFileSync(file, "utf8")).toBe("addon bytes");
    expect(readdirSync(join(file, "..")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
