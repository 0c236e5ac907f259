/**
 * The steps that turn ONE CommonJS bundle into a Node single executable (docs/PACKAGING_FACTS,
 * "What works"), shared by build/build.ts (the product) and bench/footprint.ts (the raw-path and
 * empty executables it measures beside the product, made by the same recipe):
 *
 *  1. sea-config.json: the bundle as `main`, no snapshot, code cache on, `execArgvExtension:"none"`,
 *     plus the given assets;
 *  2. the blob, made by the SAME Node binary that is embedded (`node --experimental-sea-config`);
 *  3. that binary copied, stripped (`strip`), and the blob injected with postject.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * esbuild options that bundle `entry` into ONE CommonJS file `outfile` for a single executable
 * (docs/PACKAGING_FACTS, "Recipe" step 2): node24, `import.meta` replaced by the shim
 * build/sea/import-meta-url.js, ws's optional native modules defined away. Whitespace and comments
 * are minified, names kept (stack traces keep function names): V8 holds the main script's source
 * in the heap for the process's life, and one non-Latin-1 character in a comment (an em dash in
 * zod) made the 3.3 MB bundle two-byte, 6.6 MB of heap; minified it is 2.3 MB, one-byte
 * (BENCHMARKS.md, "Footprint").
 * @param root the repository root (absolute)
 */
export function seaBundleOptions(root: string, entry: string, outfile: string): Record<string, unknown> {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    minifyWhitespace: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    inject: [join(root, "build", "sea", "import-meta-url.js")],
    define: {
      "import.meta.url": "importMetaUrl",
      "import.meta.filename": "importMetaFilename",
      "import.meta.dirname": "importMetaDirname",
      "process.env.WS_NO_BUFFER_UTIL": '"1"',
      "process.env.WS_NO_UTF_8_VALIDATE": '"1"',
    },
  };
}

/** postject's `inject` (the npm package postject), as far as it is used here. */
export type Postject = { inject(file: string, resource: string, data: Buffer, o: { sentinelFuse: string; overwrite?: boolean }): Promise<void> };

/** The fuse Node's SEA loader looks for (Node's documentation, "Single executable applications"). */
export const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/**
 * What makeSea needs: absolute paths; `assets` maps an asset name to the file embedded under it;
 * `execArgv`: Node/V8 flags the executable always starts with (sea-config `execArgv`).
 */
export type SeaInput = { node: string; bundle: string; workDir: string; out: string; assets?: Record<string, string>; execArgv?: string[]; postject: Postject };

/**
 * Run a command in `cwd` with inherited stderr/stdout.
 * @throws Error naming the command when it cannot start or exits non-zero
 */
export function runTool(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "inherit", "inherit"] });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}`);
}

/**
 * Make the executable `out` (mode 0755) from `bundle`: the blob goes to `<workDir>/sea-prep.blob`.
 * @throws Error when node, strip or postject fail
 */
export async function makeSea(i: SeaInput): Promise<void> {
  const blob = join(i.workDir, "sea-prep.blob");
  const seaConfig = join(i.workDir, "sea-config.json");
  const config = {
    main: i.bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: true,
    execArgvExtension: "none",
    ...(i.execArgv ? { execArgv: i.execArgv } : {}),
    assets: i.assets ?? {},
  };
  writeFileSync(seaConfig, JSON.stringify(config, null, 2));
  runTool(i.node, ["--experimental-sea-config", seaConfig], i.workDir);
  copyFileSync(i.node, i.out);
  chmodSync(i.out, 0o755);
  runTool("strip", [i.out], i.workDir);
  await i.postject.inject(i.out, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
}
