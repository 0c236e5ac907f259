/**
 * Builds the single executable `dist/agent-supervisor-linux-<arch>` and `dist/SHA256SUMS`, as
 * verified in docs/PACKAGING_FACTS (Node single executable application, "SEA"):
 *
 *  1. esbuild bundles src/main.ts and every dependency into ONE CommonJS file (a SEA main script
 *     can require() built-ins only). better-sqlite3's addon lookup is replaced by
 *     build/sea/better-sqlite3-binding.ts; `import.meta.url` (node-cron) by a shim.
 *  2. sea-config.json embeds that file and better-sqlite3's prebuilt addon as the asset
 *     `better_sqlite3.node` (src/store/native.ts extracts and loads it at run time).
 *  3. The blob is made by the SAME Node 24 binary that is embedded (.cache/node/bin/node).
 *  4. That binary is copied, stripped, and the blob injected with postject.
 * Steps 2-4 are build/sea.ts (shared with bench/footprint.ts).
 *
 * Run through `sh scripts/build.sh` (which runs scripts/setup.sh first). Needs esbuild and postject:
 * from the project's node_modules (devDependencies), or from the directory named by
 * AGENT_SUPERVISOR_BUILD_TOOLS (a scratch `npm install esbuild postject`).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { makeSea, seaBundleOptions, type Postject } from "./sea.ts";

const ROOT = resolve(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");
const WORK = join(DIST, ".build");
const NODE = join(ROOT, ".cache", "node", "bin", "node");
const ARCH = process.arch === "x64" ? "x64" : process.arch === "arm64" ? "arm64" : undefined;

function fail(msg: string): never {
  process.stderr.write(`build: ${msg}\n`);
  process.exit(1);
}

/** Load a build tool from node_modules, else from $AGENT_SUPERVISOR_BUILD_TOOLS. */
function tool<T>(name: string): T {
  const places = [join(ROOT, "package.json")];
  const extra = process.env.AGENT_SUPERVISOR_BUILD_TOOLS;
  if (extra) places.push(join(resolve(extra), "package.json"));
  for (const from of places) {
    const req = createRequire(from);
    try {
      return req(req.resolve(name)) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw e;
    }
  }
  fail(
    `${name} is not installed: add it to devDependencies (npm install --save-dev esbuild postject), ` +
      `or set AGENT_SUPERVISOR_BUILD_TOOLS to a directory where \`npm install esbuild postject\` was run`,
  );
}

function step(what: string, t0: number): void {
  process.stderr.write(`build: ${what} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
}

type EsbuildPlugin = { name: string; setup(b: { onResolve(o: { filter: RegExp }, cb: (a: { path: string; importer: string }) => unknown): void }): void };
type Esbuild = {
  build(o: Record<string, unknown>): Promise<{ warnings: unknown[]; metafile?: unknown }>;
};

async function main(): Promise<void> {
  const t0 = performance.now();
  if (process.platform !== "linux" || !ARCH) fail(`unsupported platform ${process.platform}-${process.arch}`);
  if (!existsSync(NODE)) fail(`${relative(ROOT, NODE)} is missing: run sh scripts/setup.sh first`);
  const nodeVersion = spawnSync(NODE, ["--version"], { encoding: "utf8" }).stdout.trim();
  const wanted = `v${readFileSync(join(ROOT, ".node-version"), "utf8").trim()}`;
  if (nodeVersion !== wanted) fail(`${relative(ROOT, NODE)} is ${nodeVersion}, expected ${wanted}: run sh scripts/setup.sh`);
  const addon = join(ROOT, "node_modules", "better-sqlite3", "prebuilds", `linux-${ARCH}.node`);
  if (!existsSync(addon)) fail(`${relative(ROOT, addon)} is missing: run sh scripts/setup.sh`);
  const esbuild = tool<Esbuild>("esbuild");
  const postject = tool<Postject>("postject");

  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const name = `agent-supervisor-linux-${ARCH}`;
  const out = join(DIST, name);
  const bundle = join(WORK, "agent-supervisor.cjs");

  // 1. One CommonJS file.
  const bindingShim = join(ROOT, "build", "sea", "better-sqlite3-binding.ts");
  const sqliteBinding: EsbuildPlugin = {
    name: "better-sqlite3-sea-binding",
    setup(b) {
      b.onResolve({ filter: /^\.\/binding$/ }, (a) =>
        /[\\/]better-sqlite3[\\/]lib$/.test(resolve(a.importer, "..")) ? { path: bindingShim } : undefined,
      );
    },
  };
  const res = await esbuild.build({ ...seaBundleOptions(ROOT, join(ROOT, "src", "main.ts"), bundle), plugins: [sqliteBinding], metafile: true });
  const meta = res.metafile as { inputs: Record<string, unknown> };
  if (!Object.keys(meta.inputs).some((p) => p.endsWith("build/sea/better-sqlite3-binding.ts"))) {
    fail("better-sqlite3's lib/binding.js was not replaced: check the plugin in build/build.ts");
  }
  // V8 keeps the main script's source in the heap; one character above U+00FF makes it two-byte (twice the size).
  const wide = /[^\u0000-\u00ff]/.exec(readFileSync(bundle, "utf8"));
  if (wide) fail(`the bundle holds a character above U+00FF (${JSON.stringify(wide[0])} at ${wide.index}): its source would take twice the heap`);
  step(`bundled ${relative(ROOT, bundle)} (${(statSync(bundle).size / 1e6).toFixed(1)} MB)`, t0);

  // 2-4. The SEA blob, made by the Node binary that is embedded; that binary copied, stripped, injected.
  const tmp = join(WORK, name);
  await makeSea({ node: NODE, bundle, workDir: WORK, out: tmp, assets: { "better_sqlite3.node": addon }, postject }).catch((e: Error) => fail(e.message));
  step("injected the blob", t0);

  // Smoke test before publishing it under dist/.
  const smoke = spawnSync(tmp, ["--version"], { cwd: WORK, env: { PATH: "/usr/bin:/bin" }, encoding: "utf8" });
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  if (smoke.status !== 0 || !smoke.stdout.includes(version)) {
    fail(`the built binary does not run: --version exited ${smoke.status ?? smoke.signal}: ${smoke.stdout}${smoke.stderr}`);
  }
  renameSync(tmp, out);
  const sum = createHash("sha256").update(readFileSync(out)).digest("hex");
  writeFileSync(join(DIST, "SHA256SUMS"), `${sum}  ${name}\n`);
  rmSync(WORK, { recursive: true, force: true });
  step(`built ${relative(ROOT, out)} ${version} (${(statSync(out).size / 1e6).toFixed(1)} MB, sha256 ${sum.slice(0, 16)}...)`, t0);
}

main().catch((e: unknown) => fail((e as Error)?.stack ?? String(e)));
