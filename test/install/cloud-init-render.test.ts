/**
 * cloud-init/render.sh, run for real (`sh render.sh`): the rendered user data passes
 * `cloud-init schema`, parses as YAML with the CA PEMs in `ca_certs.trusted` exactly, and its env
 * file passes the real `agent-supervisor config check`. Throwaway CAs come from `openssl req -x509`.
 * The checkers (cloud-init, shellcheck, envsubst, python3 with PyYAML) are skipped, saying so,
 * only when they are not installed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const RENDER = join(ROOT, "cloud-init", "render.sh");
const TEMPLATE = join(ROOT, "cloud-init", "user-data.yaml");
const CLI = join(ROOT, "bin", "agent-supervisor");
const ENV_FILE = "/etc/agent-supervisor/agent-supervisor.env";
/** Where cloud-init writes the token and install.sh reads it for the credential (install.sh TOKEN_FILE). */
const TOKEN_FILE = "/etc/agent-supervisor/control-plane-token";
const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const HAS_PYYAML = spawnSync("python3", ["-c", "import yaml"]).status === 0;
const HAS_CLOUD_INIT = has("cloud-init");

const VALUES = {
  AGENT_SUPERVISOR_BASE_URL: "https://downloads.example.com/agent-supervisor/v0.1.0",
  CONTROL_PLANE_URL: "https://cp.example.com",
  CONTROL_PLANE_TOKEN: "tok_AbC-123.xyz=/+",
  RUNTIME_ID: "rt-1",
  ACCOUNT_ID: "acc-1",
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "as-render-"));
  dirs.push(d);
  return d;
}

type Run = { status: number | null; stdout: string; stderr: string };

/** `sh render.sh ARGS` with only PATH and `env` in its environment. */
function render(env: Record<string, string>, args: string[] = []): Run {
  const r = spawnSync("sh", [RENDER, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A throwaway self-signed CA certificate (PEM), as `openssl req -x509` writes it. */
function makeCa(dir: string, name: string): string {
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-subj", `/CN=${name}`, "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return join(dir, `${name}.pem`);
}

/** The rendered text as JSON, through PyYAML's safe_load. */
function parseYaml(text: string): {
  ca_certs?: { trusted: string[] };
  write_files: { path: string; content: string; owner: string; permissions: string }[];
  runcmd: unknown[];
} {
  const r = spawnSync("python3", ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], { input: text, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** The env file's content, cut from the rendered text (the block scalar under write_files, 6 spaces in). */
function envFileText(rendered: string): string {
  const m = /\n {4}content: \|\n((?: {6}.*\n)+)/.exec(rendered);
  expect(m, "write_files content block").not.toBeNull();
  return m![1]!.replace(/^ {6}/gm, "");
}

/** The token file's line, cut from the rendered text (its write_files item, root-only until install.sh runs). */
function tokenFileText(rendered: string): string {
  const m = new RegExp(`\n {2}- path: ${TOKEN_FILE}\n {4}owner: root:root\n {4}permissions: "0600"\n {4}content: \\|\n {6}(.*)\n`).exec(rendered);
  expect(m, "the token file's write_files item").not.toBeNull();
  return m![1]!;
}

function expectValidCloudConfig(text: string): void {
  if (!HAS_CLOUD_INIT) return;
  const file = join(scratch(), "user-data.yaml");
  writeFileSync(file, text);
  const r = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toContain("Valid cloud-config");
}

/**
 * The real daemon's settings loader accepts the env file: `config print --json` loads it as the
 * daemon does (`config check` would also demand a model provider, which a control plane supplies).
 * The env file's CONTROL_PLANE_TOKEN_FILE is pointed at a scratch copy of the token file, `token`.
 * @returns the effective settings
 */
function expectSettingsOk(envText: string, token = ""): Record<string, unknown> {
  const dir = scratch();
  const file = join(dir, "agent-supervisor.env");
  writeFileSync(join(dir, "control-plane-token"), `${token}\n`);
  writeFileSync(file, envText.replace(`CONTROL_PLANE_TOKEN_FILE=${TOKEN_FILE}`, `CONTROL_PLANE_TOKEN_FILE=${join(dir, "control-plane-token")}`));
  const r = spawnSync(CLI, ["--config", file, "config", "print", "--json"], { env: { PATH: process.env.PATH }, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe("cloud-init/render.sh", () => {
  it.skipIf(!has("shellcheck"))("is clean under shellcheck", () => {
    const r = spawnSync("shellcheck", ["--shell=sh", RENDER], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
  if (!has("shellcheck")) it.skip("shellcheck is not installed: render.sh was not linted", () => {});
  if (!HAS_CLOUD_INIT) it.skip("cloud-init is not installed: `cloud-init schema` was not run on the rendered files", () => {});
  if (!HAS_PYYAML) it.skip("python3 with PyYAML is not installed: the rendered files were not parsed as YAML", () => {});

  it("without a CA: the template with the five values, the slot left commented out", () => {
    const r = render(VALUES);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    for (const name of Object.keys(VALUES)) expect(r.stdout).not.toContain("${" + name + "}");
    expect(r.stdout).toContain("# >>> ca_certs");
    expect(r.stdout).not.toMatch(/^ca_certs:/m);
    const env = envFileText(r.stdout);
    // The token is in its own file (install.sh makes it the systemd credential), not in the env file.
    expect(env).toContain(`CONTROL_PLANE_URL=${VALUES.CONTROL_PLANE_URL}\nCONTROL_PLANE_TOKEN_FILE=${TOKEN_FILE}\nRUNTIME_ID=rt-1\nACCOUNT_ID=acc-1\n`);
    expect(env).not.toContain(VALUES.CONTROL_PLANE_TOKEN);
    expect(tokenFileText(r.stdout)).toBe(VALUES.CONTROL_PLANE_TOKEN);
    expect(env).not.toMatch(/^NODE_EXTRA_CA_CERTS=/m);
    expect(r.stdout).toContain(`install, "${VALUES.AGENT_SUPERVISOR_BASE_URL}"]`);
    expectValidCloudConfig(r.stdout);
    const settings = expectSettingsOk(env, tokenFileText(r.stdout));
    expect(settings).toMatchObject({ CONTROL_PLANE_URL: VALUES.CONTROL_PLANE_URL, RUNTIME_ID: "rt-1", ACCOUNT_ID: "acc-1", CONTROL_PLANE_TOKEN: "[redacted]" });
    if (HAS_PYYAML) {
      const y = parseYaml(r.stdout);
      expect(y.ca_certs).toBeUndefined();
      expect(y.write_files[0]!.path).toBe(ENV_FILE);
      expect(y.write_files[0]!.content).toBe(env);
      expect(y.write_files[1]).toMatchObject({ path: TOKEN_FILE, owner: "root:root", permissions: "0600", content: `${VALUES.CONTROL_PLANE_TOKEN}\n` });
    }
  });

  it.skipIf(!has("envsubst"))("without a CA it renders exactly what the documented envsubst command renders", () => {
    const vars = Object.keys(VALUES).map((v) => "${" + v + "}").join(" ");
    const e = spawnSync("envsubst", [vars], { input: readFileSync(TEMPLATE, "utf8"), env: { PATH: process.env.PATH, ...VALUES }, encoding: "utf8" });
    expect(e.status).toBe(0);
    expect(render(VALUES).stdout).toBe(e.stdout);
  });

  it.skipIf(!has("openssl"))("with --ca-file twice: ca_certs.trusted holds each PEM exactly, the env file gets NODE_EXTRA_CA_CERTS", () => {
    const dir = scratch();
    const ca1 = makeCa(dir, "fleet-ca-1");
    const ca2 = makeCa(dir, "fleet-ca-2");
    const pem1 = readFileSync(ca1, "utf8");
    const pem2 = readFileSync(ca2, "utf8");
    const r = render(VALUES, ["--ca-file", ca1, `--ca-file=${ca2}`]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain("# >>> ca_certs");
    expect(r.stdout).toContain(`ca_certs:\n  trusted:\n    - |\n      ${pem1.trimEnd().split("\n").join("\n      ")}\n    - |\n`);
    const env = envFileText(r.stdout);
    expect(env).toMatch(new RegExp(`^NODE_EXTRA_CA_CERTS=${SYSTEM_BUNDLE}$`, "m"));
    expect(env).toContain(`CONTROL_PLANE_TOKEN_FILE=${TOKEN_FILE}\n`);
    expect(tokenFileText(r.stdout)).toBe(VALUES.CONTROL_PLANE_TOKEN);
    expectValidCloudConfig(r.stdout);
    // The loader takes NODE_EXTRA_CA_CERTS (systemd's EnvironmentFile= hands it to Node).
    expect(expectSettingsOk(env, VALUES.CONTROL_PLANE_TOKEN)).toMatchObject({ NODE_EXTRA_CA_CERTS: SYSTEM_BUNDLE, CONTROL_PLANE_URL: VALUES.CONTROL_PLANE_URL });
    if (HAS_PYYAML) {
      const y = parseYaml(r.stdout);
      expect(y.ca_certs!.trusted).toEqual([pem1, pem2]);
      expect(y.write_files[0]!.content).toBe(env);
      expect(JSON.stringify(y.runcmd)).toContain(VALUES.AGENT_SUPERVISOR_BASE_URL);
    }
  });

  it.skipIf(!has("openssl"))("keeps only the certificate blocks of a CA file (no text around them, CRLF line ends)", () => {
    const dir = scratch();
    const pem = readFileSync(makeCa(dir, "fleet-ca"), "utf8");
    const file = join(dir, "bundle.crt");
    writeFileSync(file, `Bag Attributes\r\n    friendlyName: fleet\r\n${pem.replace(/\n/g, "\r\n")}trailing words\r\n`);
    const r = render(VALUES, ["--ca-file", file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("\r");
    expect(r.stdout).not.toContain("Bag Attributes");
    expect(r.stdout).not.toContain("trailing words");
    if (HAS_PYYAML) expect(parseYaml(r.stdout).ca_certs!.trusted).toEqual([pem]);
    expectValidCloudConfig(r.stdout);
  });

  it("a standalone host (no control-plane values): blank control-plane lines and an empty token file the daemon reads as unset", () => {
    const r = render({ AGENT_SUPERVISOR_BASE_URL: VALUES.AGENT_SUPERVISOR_BASE_URL });
    expect(r.status, r.stderr).toBe(0);
    const env = envFileText(r.stdout);
    expect(env).toContain(`CONTROL_PLANE_URL=\nCONTROL_PLANE_TOKEN_FILE=${TOKEN_FILE}\nRUNTIME_ID=\nACCOUNT_ID=\n`);
    // Empty: install.sh then adds no credential drop-in (test/install/install.test.ts).
    expect(tokenFileText(r.stdout)).toBe("");
    if (HAS_PYYAML) expect(parseYaml(r.stdout).write_files[1]).toMatchObject({ path: TOKEN_FILE, content: "" });
    expectValidCloudConfig(r.stdout);
    const settings = expectSettingsOk(env, tokenFileText(r.stdout));
    expect(settings.CONTROL_PLANE_URL).toBeUndefined();
    expect(settings.CONTROL_PLANE_TOKEN).toBeUndefined();
  });

  it("-o FILE writes the rendered file 0600 (it holds the service token)", () => {
    const out = join(scratch(), "user-data.rendered.yaml");
    const r = render(VALUES, ["-o", out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(readFileSync(out, "utf8")).toBe(render(VALUES).stdout);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it("-h prints the usage; an unknown option is a usage error (64)", () => {
    const h = render({}, ["-h"]);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain("--ca-file FILE");
    const u = render(VALUES, ["--bogus"]);
    expect(u.status).toBe(64);
    expect(u.stderr).toContain("unknown argument: --bogus");
    expect(render(VALUES, ["--ca-file"]).status).toBe(64);
  });

  it.each([
    { name: "a newline", key: "CONTROL_PLANE_TOKEN", value: "tok\nruncmd: [reboot]" },
    { name: "a double quote", key: "AGENT_SUPERVISOR_BASE_URL", value: 'https://x.example.com/"]' },
    { name: "a single quote", key: "RUNTIME_ID", value: "rt'1" },
    { name: "a backslash", key: "ACCOUNT_ID", value: "acc\\1" },
    { name: "a dollar sign", key: "CONTROL_PLANE_TOKEN", value: "tok$HOME" },
    { name: "a space", key: "ACCOUNT_ID", value: "acc 1" },
    { name: "a hash", key: "CONTROL_PLANE_TOKEN", value: "tok#1" },
    { name: "a tab", key: "RUNTIME_ID", value: "rt\t1" },
    { name: "a carriage return", key: "RUNTIME_ID", value: "rt\r" },
  ])("refuses $key with $name, naming it (exit 65), and writes nothing", ({ key, value }) => {
    const out = join(scratch(), "user-data.yaml");
    const r = render({ ...VALUES, [key]: value }, ["-o", out]);
    expect(r.status).toBe(65);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`render.sh: error: ${key} contains`);
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    { name: "no base URL", env: { ...VALUES, AGENT_SUPERVISOR_BASE_URL: "" }, text: "AGENT_SUPERVISOR_BASE_URL is not set" },
    { name: "a plain-http base URL off loopback", env: { ...VALUES, AGENT_SUPERVISOR_BASE_URL: "http://downloads.example.com" }, text: "AGENT_SUPERVISOR_BASE_URL must be https://" },
    { name: "a control-plane URL that is not http(s)", env: { ...VALUES, CONTROL_PLANE_URL: "ftp://cp.example.com" }, text: "CONTROL_PLANE_URL must be https://" },
    { name: "half of the control-plane values", env: { AGENT_SUPERVISOR_BASE_URL: VALUES.AGENT_SUPERVISOR_BASE_URL, CONTROL_PLANE_URL: VALUES.CONTROL_PLANE_URL, RUNTIME_ID: "rt-1" }, text: "missing: CONTROL_PLANE_TOKEN ACCOUNT_ID" },
  ])("refuses $name (exit 65)", ({ env, text }) => {
    const r = render(env);
    expect(r.status).toBe(65);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(text);
  });

  it("accepts plain http to loopback, as install.sh and the daemon do", () => {
    const r = render({ ...VALUES, AGENT_SUPERVISOR_BASE_URL: "http://127.0.0.1:8080/release", CONTROL_PLANE_URL: "http://127.0.0.1:18800" });
    expect(r.status, r.stderr).toBe(0);
    expect(expectSettingsOk(envFileText(r.stdout), VALUES.CONTROL_PLANE_TOKEN)).toMatchObject({ CONTROL_PLANE_URL: "http://127.0.0.1:18800" });
  });

  it.skipIf(!has("openssl"))("refuses a CA file that is missing, holds no certificate, a cut-off one, or a private key (exit 65)", () => {
    const dir = scratch();
    const pem = readFileSync(makeCa(dir, "fleet-ca"), "utf8");
    const files = {
      empty: "not a certificate\n",
      cut: pem.split("\n").slice(0, 4).join("\n") + "\n",
      key: pem + readFileSync(join(dir, "fleet-ca.key"), "utf8"),
      garbled: pem.replace(/\n([A-Za-z0-9+/]{10})/, "\n$1 ! "),
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const cases: [string, string][] = [
      [join(dir, "absent.pem"), "cannot read"],
      [join(dir, "empty"), "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"],
      [join(dir, "cut"), "has a certificate without its -----END CERTIFICATE----- line"],
      [join(dir, "key"), "holds a private key"],
      [join(dir, "garbled"), "has a line that is not base64 inside a certificate"],
    ];
    for (const [file, text] of cases) {
      const r = render(VALUES, ["--ca-file", file]);
      expect(r.status, file).toBe(65);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`render.sh: error: --ca-file ${file}`);
      expect(r.stderr).toContain(text);
    }
  });

  describe.skipIf(!has("ssh-keygen"))("--signing-key-file: the release key pinned on the host", () => {
    /** A throwaway ed25519 key pair; returns the private key's file (the public one is FILE.pub). */
    function makeKey(dir: string, name: string): string {
      const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${name} comment`, "-f", join(dir, name)], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      return join(dir, name);
    }
    // install.sh reads the pinned key from this path (KEY_FILE).
    const KEY_FILE = /^KEY_FILE=(.*)$/m.exec(readFileSync(join(ROOT, "install.sh"), "utf8"))?.[1];

    it("fills the slot with a write_files item holding the key line; without it the slot stays commented out", () => {
      expect(KEY_FILE).toBe("/etc/agent-supervisor/release-signing-key.pub");
      const plain = render(VALUES);
      expect(plain.stdout).toContain("# >>> signing_key");
      if (HAS_PYYAML) expect(parseYaml(plain.stdout).write_files.map((f) => f.path)).toEqual([ENV_FILE, TOKEN_FILE]);
      const dir = scratch();
      const key = makeKey(dir, "release");
      const pub = readFileSync(`${key}.pub`, "utf8");
      const line = pub.split(" ").slice(0, 2).join(" ");
      const ca = has("openssl") ? ["--ca-file", makeCa(dir, "fleet-ca")] : [];
      const r = render(VALUES, ["--signing-key-file", `${key}.pub`, ...ca]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).not.toContain("# >>> signing_key");
      expect(r.stdout).toContain(`  - path: ${KEY_FILE}\n    owner: root:root\n    permissions: "0644"\n    content: |\n      ${line}\n`);
      expectValidCloudConfig(r.stdout);
      if (HAS_PYYAML) {
        const y = parseYaml(r.stdout);
        expect(y.write_files[2]).toMatchObject({ path: KEY_FILE, content: `${line}\n`, permissions: "0644" });
        expect(y.write_files.map((f) => f.path)).toEqual([ENV_FILE, TOKEN_FILE, KEY_FILE]);
        if (ca.length > 0) expect(y.ca_certs!.trusted).toHaveLength(1);
      }
    });

    it("refuses a private key, two keys, or no key (exit 65), and writes nothing", () => {
      const dir = scratch();
      const key = makeKey(dir, "release");
      const other = makeKey(dir, "other");
      writeFileSync(join(dir, "two.pub"), readFileSync(`${key}.pub`, "utf8") + readFileSync(`${other}.pub`, "utf8"));
      writeFileSync(join(dir, "garbage.pub"), "not a key\n");
      const cases: [string, string][] = [
        [key, "holds a private key"],
        [join(dir, "two.pub"), "is not one OpenSSH public key line"],
        [join(dir, "garbage.pub"), "is not one OpenSSH public key line"],
        [join(dir, "absent.pub"), "cannot read"],
      ];
      for (const [file, text] of cases) {
        const out = join(scratch(), "user-data.yaml");
        const r = render(VALUES, ["--signing-key-file", file, "-o", out]);
        expect(r.status, file).toBe(65);
        expect(r.stderr).toContain(`render.sh: error: --signing-key-file ${file}`);
        expect(r.stderr).toContain(text);
        expect(existsSync(out)).toBe(false);
      }
    });
  });
});
