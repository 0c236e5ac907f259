/**
 * What the droplet test puts into a fresh root filesystem before its first boot, so that the guest
 * needs no network but its own loopback (the "self-contained" set-up of
 * ../shared/SYSTEMD_TEST_FACTS.md):
 * - the release (binary, SHA256SUMS, install.sh) served over https on the guest's 127.0.0.1:8443 by
 *   a small python server, with a certificate from a throwaway CA that reaches the guest's trust
 *   store only through the rendered user-data's `ca_certs` slot;
 * - the stand-ins, run from the release binary itself: the mock model (`dev mock-model`, the LLM
 *   provider) and the reference control plane (`dev control-plane`, the fleet's control plane),
 *   which the daemon reaches over https through a TLS front with the same CA's certificate, so the
 *   daemon's Node trusts it only through the NODE_EXTRA_CA_CERTS that render.sh writes;
 * - the NoCloud seed: the project's cloud-init template rendered by `cloud-init/render.sh`;
 * - the managed OpenClaw runtime, bind-mounted read-only from the end-to-end runtime cache where
 *   install.sh's `agent-supervisor openclaw install` finds it (`current.json`), because the guest
 *   cannot reach the npm registry.
 * The three stand-in units are ordered before cloud-init's final stage, as a fleet's release host
 * and control plane exist before a droplet boots.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BINARY, ROOT, SUMS } from "../build/ensure-built.ts";
import { makeTestTls } from "../integration/tls-fixture.ts";
import type { Bind } from "./container.ts";

/** Where things are inside the guest. */
export const GUEST = {
  release: "/srv/release",
  releaseUrl: "https://127.0.0.1:8443",
  modelUrl: "http://127.0.0.1:18999",
  /** The control plane's admin side, for the test (plain http). */
  controlPlaneUrl: "http://127.0.0.1:18800",
  /** The daemon's side: https with the throwaway CA's certificate, which only NODE_EXTRA_CA_CERTS makes Node trust. */
  controlPlaneTlsUrl: "https://127.0.0.1:18443",
  dataDir: "/var/lib/agent-supervisor",
  envFile: "/etc/agent-supervisor/agent-supervisor.env",
  runtimeId: "droplet-1",
  accountId: "droplet-account",
} as const;

/** Tokens of the guest's reference control plane (written into its state directory). */
export type ControlPlaneTokens = { service: string; admin: string };

/** What {@link prepareGuest} returns: the binds for nspawn and the control plane's tokens. */
export type PreparedGuest = { binds: Bind[]; tokens: ControlPlaneTokens; caPem: string; userData: string };

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal}): ${r.stderr}${r.error?.message ?? ""}`);
  return r.stdout;
}

function write(root: string, path: string, content: string, mode = 0o644): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode });
}

const RELEASE_SERVER = `import functools, http.server, ssl, sys
directory, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
`;

/** A TLS front for a plain-http port: what an internal https host with a private CA looks like. */
const TLS_FORWARDER = `import socket, ssl, sys, threading
port, target, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def handle(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
        u = socket.create_connection(("127.0.0.1", target))
    except OSError:
        c.close()
        return
    threading.Thread(target=pipe, args=(t, u), daemon=True).start()
    pipe(u, t)
server = socket.create_server(("127.0.0.1", port))
while True:
    conn, _ = server.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
`;

/** A stand-in unit, started before cloud-init's final stage (which runs install.sh). */
function unit(description: string, execStart: string): string {
  return `[Unit]
Description=${description} (droplet test stand-in)
Before=cloud-final.service

[Service]
ExecStart=${execStart}
Restart=always
RestartSec=1s

[Install]
WantedBy=multi-user.target
`;
}

/**
 * Write the stand-ins, the seed and the runtime record into `root`, and stage the release in
 * `work/release`. `runtimeDir` is the end-to-end runtime cache (`.cache/e2e-runtime/runtime`).
 * @throws Error when openssl, cloud-init/render.sh or a copy fails
 */
export function prepareGuest(root: string, work: string, runtimeDir: string): PreparedGuest {
  const release = join(work, "release");
  mkdirSync(release, { recursive: true });
  for (const f of [BINARY, SUMS, join(ROOT, "install.sh")]) copyFileSync(f, join(release, f.split("/").pop()!));

  const tls = makeTestTls(join(work, "tls"));
  for (const [name, from] of Object.entries({ "ca.pem": tls.ca, "server.pem": tls.cert, "server.key": tls.key })) {
    write(root, `srv/tls/${name}`, readFileSync(from, "utf8"), 0o600);
  }
  write(root, "usr/local/lib/droplet-test/release_server.py", RELEASE_SERVER);
  write(root, "usr/local/lib/droplet-test/tls_forwarder.py", TLS_FORWARDER);
  const bin = `${GUEST.release}/agent-supervisor-linux-x64`;
  const units: Record<string, string> = {
    "droplet-release.service": unit("release host", `/usr/bin/python3 /usr/local/lib/droplet-test/release_server.py ${GUEST.release} 8443 /srv/tls/server.pem /srv/tls/server.key`),
    "droplet-mock-model.service": unit("LLM provider", `${bin} dev mock-model --port 18999`),
    // The cloud's metadata service, which serves the user data (with the token): the unit's IPAddressDeny= must keep the agent from it.
    "droplet-metadata.service": unit("instance metadata", "/usr/bin/python3 -m http.server 80 --bind 169.254.169.254 --directory /srv/metadata").replace(
      "[Service]\n",
      "[Service]\nExecStartPre=-/usr/sbin/ip addr add 169.254.169.254/32 dev lo\n",
    ),
    "droplet-control-plane-tls.service": unit("fleet control plane, https", "/usr/bin/python3 /usr/local/lib/droplet-test/tls_forwarder.py 18443 18800 /srv/tls/server.pem /srv/tls/server.key"),
    "droplet-control-plane.service": unit(
      "fleet control plane",
      `${bin} dev control-plane --port 18800 --db /var/lib/droplet-cp/cp.db --state-dir /var/lib/droplet-cp --runtime ${GUEST.runtimeId}:${GUEST.accountId}`,
    ),
  };
  for (const [name, text] of Object.entries(units)) {
    write(root, `etc/systemd/system/${name}`, text);
    mkdirSync(join(root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    symlinkSync(`/etc/systemd/system/${name}`, join(root, "etc/systemd/system/multi-user.target.wants", name));
  }
  const tokens: ControlPlaneTokens = { service: `svc-${randomToken()}`, admin: `adm-${randomToken()}` };
  write(root, "var/lib/droplet-cp/service.token", `${tokens.service}\n`, 0o600);
  write(root, "srv/metadata/index.html", `#cloud-config user data, as a cloud serves it\nCONTROL_PLANE_TOKEN=${tokens.service}\n`);
  write(root, "var/lib/droplet-cp/admin.token", `${tokens.admin}\n`, 0o600);

  // The seed: the project's template, rendered the documented way, with the CA in its slot.
  const userData = run("sh", [join(ROOT, "cloud-init", "render.sh"), "--ca-file", tls.ca], {
    env: {
      PATH: process.env.PATH,
      AGENT_SUPERVISOR_BASE_URL: GUEST.releaseUrl,
      CONTROL_PLANE_URL: GUEST.controlPlaneTlsUrl,
      CONTROL_PLANE_TOKEN: tokens.service,
      RUNTIME_ID: GUEST.runtimeId,
      ACCOUNT_ID: GUEST.accountId,
    },
  });
  write(root, "var/lib/cloud/seed/nocloud/user-data", userData, 0o600);
  write(root, "var/lib/cloud/seed/nocloud/meta-data", `instance-id: droplet-${randomToken().slice(0, 8)}\nlocal-hostname: droplet\n`);

  // The runtime, where `agent-supervisor openclaw install` finds it installed.
  const current = JSON.parse(readFileSync(join(runtimeDir, "current.json"), "utf8")) as { openclawVersion: string; nodeVersion: string; npmVersion: string };
  const guestRuntime = `${GUEST.dataDir}/runtime`;
  const nodeDir = `node-${current.nodeVersion}`;
  const openclawDir = `openclaw-${current.openclawVersion}`;
  write(root, `${guestRuntime.slice(1)}/current.json`, `${JSON.stringify({
    ...current,
    nodePath: `${guestRuntime}/${nodeDir}/bin/node`,
    entryPath: `${guestRuntime}/${openclawDir}/node_modules/openclaw/openclaw.mjs`,
    installedAt: new Date().toISOString(),
  }, null, 2)}\n`);
  const binds: Bind[] = [
    { host: release, guest: GUEST.release, readOnly: true },
    { host: join(runtimeDir, nodeDir), guest: `${guestRuntime}/${nodeDir}`, readOnly: true },
    { host: join(runtimeDir, openclawDir), guest: `${guestRuntime}/${openclawDir}`, readOnly: true },
  ];
  return { binds, tokens, caPem: readFileSync(tls.ca, "utf8"), userData };
}

function randomToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) => b.toString(16).padStart(2, "0")).join("");
}
