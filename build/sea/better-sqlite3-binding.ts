/**
 * Replaces better-sqlite3's lib/binding.js in the single-executable bundle (build/build.ts).
 * The original looks for the `.node` file next to the package with a dynamic require(), which
 * cannot work inside a SEA. Here: an explicit `nativeBinding` object is used as is; otherwise the
 * addon loaded by src/store/native.ts (extracted from the SEA asset) is used; otherwise a clear
 * error instead of a failing require().
 */
import { currentNativeSqliteBinding } from "../../src/store/native.ts";

export function getBinding(nativeBinding: unknown): unknown {
  if (typeof nativeBinding === "object" && nativeBinding !== null) return nativeBinding;
  if (typeof nativeBinding === "string") {
    throw new Error("better-sqlite3: a nativeBinding path is not supported in the single executable");
  }
  const loaded = currentNativeSqliteBinding();
  if (loaded) return loaded.binding;
  throw new Error(
    "better-sqlite3: the native SQLite addon is not loaded (call loadNativeSqliteBinding(dataDir) from src/store/native.ts before opening a database)",
  );
}

export function getPrebuildPath(): null {
  return null;
}
