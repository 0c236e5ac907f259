/** The agent boundary's pure decisions (issue 11, supervisor/gateway-user.ts, shared-tree.ts, the gateway:user check). */
import { describe, expect, it } from "vitest";
import { commandAsUser, decideBoundary, findUser, missingCapabilities, parseCapEff, type BoundaryFacts } from "../../src/supervisor/gateway-user.ts";
import { isSharedRoot, sharedMode } from "../../src/supervisor/shared-tree.ts";
import { boundaryCheck } from "../../src/watchdogs/gateway-user.ts";

const ALL = 0xe0n; // CAP_KILL (5), CAP_SETGID (6), CAP_SETUID (7)
const gw = { name: "agent-supervisor-gw", uid: 990, gid: 990 };
const facts = (over: Partial<BoundaryFacts>): BoundaryFacts => ({ wanted: "agent-supervisor-gw", selfUid: 991, user: gw, capEff: ALL, setpriv: "/usr/bin/setpriv", ...over });

describe("decideBoundary", () => {
  it("is on with the user, the capabilities and setpriv", () => {
    expect(decideBoundary(facts({}))).toEqual({ on: true, user: gw, setpriv: "/usr/bin/setpriv" });
  });
  it("is off, not required, without GATEWAY_USER or when it names the daemon's own user", () => {
    expect(decideBoundary(facts({ wanted: undefined }))).toMatchObject({ on: false, required: false, reason: expect.stringContaining("GATEWAY_USER is not set") });
    expect(decideBoundary(facts({ selfUid: 990 }))).toMatchObject({ on: false, required: false, reason: expect.stringContaining("the daemon's own user") });
  });
  it.each([
    [{ user: undefined }, /no such user/],
    [{ user: { name: "root", uid: 0, gid: 0 } }, /never runs as root/],
    [{ user: { ...gw, gid: 0 } }, /never runs as root or in group root/],
    [{ selfGid: 990 }, /its group is the daemon's \(gid 990\)/],
    [{ capEff: 0x40n }, /lacks CAP_SETUID, CAP_KILL/],
    [{ capEff: null }, /lacks CAP_SETUID, CAP_SETGID, CAP_KILL/],
    [{ setpriv: undefined }, /setpriv \(util-linux\) is not installed/],
  ] as const)("is required and off with %o", (over, reason) => {
    const b = decideBoundary(facts(over as Partial<BoundaryFacts>));
    expect(b).toMatchObject({ on: false, required: true });
    expect(!b.on && b.reason).toMatch(reason);
    expect(!b.on && b.reason).toMatch(/the gateway is not started without the boundary/);
  });
  it("root's full set has every needed capability", () => {
    expect(missingCapabilities(0x1ffffffffffn)).toEqual([]);
    expect(missingCapabilities(0n)).toEqual(["CAP_SETUID", "CAP_SETGID", "CAP_KILL"]);
  });
});

describe("the host's files, read leniently", () => {
  it("finds a user in passwd text and skips malformed lines", () => {
    const passwd = "root:x:0:0:root:/root:/bin/bash\nbroken line\nagent-supervisor-gw:x:990:990::/var/lib/agent-supervisor/gateway/home:/usr/sbin/nologin\nodd:x::1::/:/bin/false\n";
    expect(findUser(passwd, "agent-supervisor-gw")).toEqual(gw);
    expect(findUser(passwd, "odd")).toBeUndefined();
    expect(findUser(passwd, "nobody")).toBeUndefined();
  });
  it("reads CapEff from /proc/<pid>/status", () => {
    expect(parseCapEff("Name:\tnode\nCapPrm:\t00000000000000e0\nCapEff:\t00000000000000e0\n")).toBe(0xe0n);
    expect(parseCapEff("Name:\tnode\n")).toBeNull();
  });
});

it("commandAsUser wraps the command in setpriv, dropping groups and the inheritable and ambient capabilities", () => {
  expect(commandAsUser({ user: gw, setpriv: "/usr/bin/setpriv" }, "/n/node", ["entry.mjs", "gateway", "run"])).toEqual({
    command: "/usr/bin/setpriv",
    args: ["--reuid=990", "--regid=990", "--clear-groups", "--inh-caps=-all", "--ambient-caps=-all", "--", "/n/node", "entry.mjs", "gateway", "run"],
  });
  expect(commandAsUser(undefined, "/n/node", ["a"])).toEqual({ command: "/n/node", args: ["a"] });
});

describe("the shared tree's modes", () => {
  it.each([
    [0o40700, true, 0o2770],
    [0o41700, true, 0o3770], // a sticky bit stays
    [0o40755, true, 0o2770],
    [0o100600, false, 0o660],
    [0o100700, false, 0o770],
    [0o100644, false, 0o660],
    [0o100400, false, 0o440],
  ])("%o (dir %s) → %o", (mode, isDir, want) => {
    expect(sharedMode(mode, isDir)).toBe(want);
  });
  it("a root is shared with the group, setgid and group rwx", () => {
    expect(isSharedRoot(0o42770, 990, 990)).toBe(true);
    expect(isSharedRoot(0o40770, 990, 990)).toBe(false);
    expect(isSharedRoot(0o42770, 991, 990)).toBe(false);
    expect(isSharedRoot(0o42750, 990, 990)).toBe(false);
  });
});

it("the gateway:user check: pass on, warn off by choice, fail required and off", () => {
  expect(boundaryCheck({ on: true, user: gw, setpriv: "/usr/bin/setpriv" })).toMatchObject({ key: "gateway:user", status: "pass", output: null, observedValue: "agent-supervisor-gw", details: { boundary: "on", uid: 990 } });
  expect(boundaryCheck({ on: false, required: false, reason: "GATEWAY_USER is not set: x" })).toMatchObject({ status: "warn", output: "the agent boundary is off: GATEWAY_USER is not set: x", details: { boundary: "off" } });
  expect(boundaryCheck({ on: false, required: true, reason: "y" })).toMatchObject({ status: "fail" });
});
