/**
 * Throwaway TLS material for tests, made with the openssl CLI: a CA and a server certificate for
 * 127.0.0.1 / localhost signed by it. Used where a private CA must be trusted (the droplet's
 * release host and control plane, the daemon's NODE_EXTRA_CA_CERTS).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Paths of the PEM files written into the directory. */
export type TestTls = { ca: string; cert: string; key: string };

function openssl(args: string[]): void {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (exit ${r.status ?? r.signal}): ${r.stderr}${r.error?.message ?? ""}`);
}

/**
 * Write `ca.pem`/`ca.key` and `server.pem`/`server.key` (SAN IP:127.0.0.1, DNS:localhost; valid
 * two days) into `dir`.
 * @throws Error when openssl is missing or fails
 */
export function makeTestTls(dir: string): TestTls {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=agent-supervisor test CA",
    "-keyout", p("ca.key"), "-out", p("ca.pem"), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", p("server.key"), "-out", p("server.csr")]);
  writeFileSync(p("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl(["x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2",
    "-extfile", p("ext.cnf"), "-out", p("server.pem")]);
  return { ca: p("ca.pem"), cert: p("server.pem"), key: p("server.key") };
}
