// Import rules for src/, checked by dependency-cruiser in `npm test`
// (test/architecture/imports.test.ts) and by hand with `npm run deps`.
//
// src/ is split into rooms, one folder each. ROOMS below is the one place where the allowed
// import direction is written: lowest first, and a room may import only the rooms listed
// BEFORE it (and itself), never one listed after it. Because the order is total, no two
// rooms can import each other. src/main.ts is the composition root above every room: it may
// import anything and nothing imports it. Any other file directly in src/, or a folder not
// named here, is flagged until it is given a room (and a place in this list).
//
// Type-only imports (`import type`, `import { type X }`) count like any other import: they
// couple the rooms all the same. The parser is swc because dependency-cruiser's TypeScript
// parser needs the TypeScript 5/6 compiler API, which TypeScript 7 (tsgo) no longer ships;
// swc keeps type-only imports in the graph (marked "type-only").
"use strict";

const path = require("node:path");

/** Lowest first: each room may import only the rooms before it. */
const ROOMS = [
  "core", //       clock, errors, fs-atomic, os-process, logger, backoff, data-dir layout, sd_notify: imports no other room
  "gateway", //    the gateway's protocol: the persistent connection, the session key
  "store", //      SQLite: turns, events, central turns (leases, outbox)
  "workspace", //  memory decay of the agent workspace (its policy is validated by config)
  "config", //     settings schema and loading
  "runtime", //    OpenClaw runtime install / resolve
  "sync", //       control-plane client, contract, worker, secrets poller
  "turns", //      turn service (the one entry point), delivery, transcript
  "supervisor", // the gateway process: spawn, readiness, restart policy, prepare, EX_CONFIG doctor step
  "watchdogs", //  liveness, memory, stale /tmp, MEMORY.md budget, systemd pings
  "health", //     local HTTP API, health assessment, metrics
  "daemon", //     the wiring of runDaemon: assembly, lifecycle, rotation
  "dev", //        dev tools: reference control plane, mock model
  "cli", //        one file per command, the local API client, the status formatter
];
const ROOT = "src/main.ts"; // the composition root, above every room

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const anyOf = (names) => `^src/(${names.map(escape).join("|")})/`;
const MAIN = `^${escape(ROOT)}$`;

/** One rule per room: nothing from a room to the rooms after it, nor to src/main.ts. */
const upwardRules = ROOMS.map((room, i) => {
  const above = ROOMS.slice(i + 1);
  return {
    name: `${room}-imports-upward`,
    severity: "error",
    comment:
      `src/${room}/ may import only ${i === 0 ? "no other room" : ROOMS.slice(0, i).join(", ")}` +
      ` (the rooms below it in .dependency-cruiser.cjs), never ${[...above, "main.ts"].join(", ")}.`,
    from: { path: `^src/${escape(room)}/` },
    to: { path: above.length > 0 ? `${anyOf(above)}|${MAIN}` : MAIN },
  };
});

const KNOWN = `${anyOf(ROOMS)}|${MAIN}`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upwardRules,
    {
      name: "no-circular-between-rooms",
      severity: "error",
      comment:
        "Two rooms (folders of src/) import each other, directly or through other rooms. " +
        "Imports go one way only, down the ROOMS list.",
      scope: "folder",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-circular-modules",
      severity: "error",
      comment:
        "A module cycle, inside one room or across rooms. Inside a room too, a shared piece goes to the module both use.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-file-outside-a-room",
      severity: "error",
      comment:
        "Every file of src/ other than main.ts lives in a room listed in ROOMS in .dependency-cruiser.cjs.",
      from: { path: "^src/", pathNot: KNOWN },
      to: {},
    },
    {
      name: "no-import-of-file-outside-a-room",
      severity: "error",
      comment:
        "Every file of src/ other than main.ts lives in a room listed in ROOMS in .dependency-cruiser.cjs.",
      from: {},
      to: { path: "^src/", pathNot: KNOWN },
    },
    {
      name: "no-orphan-outside-a-room",
      severity: "error",
      comment:
        "Every file of src/ other than main.ts lives in a room listed in ROOMS in .dependency-cruiser.cjs.",
      from: { orphan: true, path: "^src/", pathNot: KNOWN },
      to: {},
    },
    {
      name: "no-src-to-tests",
      severity: "error",
      comment: "Shipped code does not import the tests, benchmarks or scripts.",
      from: { path: "^src/" },
      to: { path: "^(test|bench|scripts)/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve to a file or a package (typo, moved file, missing dependency).",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    parser: "swc",
    // No `paths` in it today: relative imports name their file with its .ts extension
    // (allowImportingTsExtensions), which resolves as written.
    tsConfig: { fileName: path.join(__dirname, "tsconfig.json") },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "node", "default", "types"],
      extensions: [".ts", ".js", ".json"],
      mainFields: ["module", "main", "types"],
    },
    skipAnalysisNotInRules: true,
  },
};
