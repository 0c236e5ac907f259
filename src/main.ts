/**
 * agent-supervisor: the composition root. The only module that touches `process`: it hands the
 * environment, the clock, spawn, fetch, signals and stdio to the CLI (src/cli/), and maps a
 * typed error to the process's exit code (core/errors.ts).
 */
import { spawn } from "node:child_process";
import { isSea } from "node:sea";
import { CommanderError } from "commander";
import pkg from "../package.json" with { type: "json" };
import { buildCli } from "./cli/program.ts";
import { systemClock } from "./core/clock.ts";
import { EXIT, exitCodeFor, SupervisorError } from "./core/errors.ts";
import type { Host } from "./daemon/host.ts";

const host: Host = {
  env: process.env,
  clock: systemClock,
  random: Math.random,
  spawn,
  fetch,
  uid: process.getuid?.() ?? 0,
  // The single executable is its own program; in development, node with its flags and main.ts.
  self: { command: process.execPath, args: isSea() ? [] : [...process.execArgv, process.argv[1]!] },
  setUmask: (mask) => void process.umask(mask),
  stdin: () => process.stdin,
  onSignal: (signal, handler) => void process.on(signal, handler),
  exit: (code) => process.exit(code),
  onUnhandledRejection: (handler) => void process.on("unhandledRejection", handler),
};

const out = (line: string) => void process.stdout.write(`${line}\n`);
const err = (line: string) => void process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<void> {
  // `agent-supervisor config print | head` closes our stdout early: that is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
  });
  try {
    await buildCli(host, pkg.version, { out, err, setExitCode: (code) => (process.exitCode = code) }).parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : EXIT.USAGE;
      return;
    }
    err(`agent-supervisor: ${e instanceof SupervisorError ? `${e.message} [${e.code}]` : ((e as Error)?.stack ?? String(e))}`);
    process.exitCode = exitCodeFor(e);
  }
}

void main(process.argv);
