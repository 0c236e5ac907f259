/**
 * A real HTTP server on 127.0.0.1:0 that speaks the two registry requests the installer makes:
 * `GET /<name>/<version>` → version document, `GET /-/<name>-<version>.tgz` → tarball bytes.
 * Tests override any path with {@link FakeRegistry.override} to inject failures, and read
 * {@link FakeRegistry.requests} to prove what went over the wire.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A response override: status, body, and whether to omit Content-Length (chunked). */
export type Override = { status?: number; body: string | Buffer; contentType?: string; chunked?: boolean };

export type FakeRegistry = {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** `METHOD path` of every request received, in order. */
  requests: string[];
  /** Serve `tarball` as `name@version`; `integrity` defaults to its true sha512 SRI. */
  publish(name: string, version: string, tarball: Buffer, integrity?: string): void;
  /** Answer `path` with `response` instead of the published content. */
  override(path: string, response: Override | ((req: IncomingMessage, res: ServerResponse) => void)): void;
  close(): Promise<void>;
};

/** SRI sha512 of a buffer, as the registry's `dist.integrity`. */
export const sri512 = (buf: Buffer): string => `sha512-${createHash("sha512").update(buf).digest("base64")}`;

/** Start the server. */
export async function startFakeRegistry(): Promise<FakeRegistry> {
  const packages = new Map<string, { tarball: Buffer; integrity: string }>();
  const overrides = new Map<string, Override | ((req: IncomingMessage, res: ServerResponse) => void)>();
  const requests: string[] = [];
  let base = "";
  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push(`${req.method} ${path}`);
    const o = overrides.get(path);
    if (typeof o === "function") return o(req, res);
    if (o) return send(res, o);
    const meta = /^\/([^/]+)\/([^/]+)$/.exec(path);
    if (meta && meta[1] !== "-") {
      const [, name, version] = meta as unknown as [string, string, string];
      const pkg = packages.get(`${decodeURIComponent(name)}@${version}`);
      if (!pkg) return send(res, { status: 404, body: JSON.stringify({ error: "Not found" }) });
      const doc = { name, version, dist: { tarball: `${base}/-/${name}-${version}.tgz`, integrity: pkg.integrity, shasum: "x" } };
      return send(res, { body: JSON.stringify(doc), contentType: "application/json" });
    }
    const tgz = /^\/-\/(.+)-(\d[^-]*(?:-[^-]+)?)\.tgz$/.exec(path);
    const pkg = tgz ? packages.get(`${tgz[1]}@${tgz[2]}`) : undefined;
    if (pkg) return send(res, { body: pkg.tarball, contentType: "application/octet-stream" });
    send(res, { status: 404, body: "{}" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    publish: (name, version, tarball, integrity) => packages.set(`${name}@${version}`, { tarball, integrity: integrity ?? sri512(tarball) }),
    override: (path, response) => overrides.set(path, response),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function send(res: ServerResponse, o: Override): void {
  const body = typeof o.body === "string" ? Buffer.from(o.body) : o.body;
  const headers: Record<string, string | number> = { "content-type": o.contentType ?? "application/json" };
  if (!o.chunked) headers["content-length"] = body.length;
  res.writeHead(o.status ?? 200, headers);
  if (o.chunked) {
    // two writes without a length: Transfer-Encoding: chunked
    res.write(body.subarray(0, Math.floor(body.length / 2)));
    res.end(body.subarray(Math.floor(body.length / 2)));
  } else res.end(body);
}
