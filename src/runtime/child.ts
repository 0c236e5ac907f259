/**
 * Runs one short-lived child (the Node `--version` check, `npm install`) through an injected
 * `spawn`, line by line, keeping the tail of its output for error messages.
 */
import type { ChildProcess } from "node:child_process";
import type { SpawnFn } from "../core/os-process.ts";


/** How a child ended. `exitCode` null means it was killed by `signal`; `tail` is its last lines. */
export type ChildResult = { exitCode: number | null; signal: NodeJS.Signals | null; stdout: string; tail: string[] };

/** Options of {@link runChild}. */
export type RunChildOptions = {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
  /** Each non-empty line of stdout or stderr, trimmed, as it arrives. */
  onLine?: (line: string) => void;
  /** Lines kept in `tail` (default 40). */
  tailLines?: number;
};

const MAX_STDOUT_CHARS = 64 * 1024;

/**
 * Spawn `command args`, wait for it to exit.
 * @returns how it ended; never rejects for a non-zero exit
 * @throws the spawn error (ENOENT, EACCES, ENOEXEC...) when the child could not start;
 *   `signal.reason` when aborted (the child is sent SIGTERM)
 */
export function runChild(spawn: SpawnFn, command: string, args: readonly string[], opts: RunChildOptions): Promise<ChildResult> {
  const keep = opts.tailLines ?? 40;
  const tail: string[] = [];
  let stdout = "";
  return new Promise<ChildResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"], signal: opts.signal });
    } catch (err) {
      reject(err);
      return;
    }
    const emit = (raw: string) => {
      const line = raw.trim();
      if (line === "") return;
      tail.push(line);
      if (tail.length > keep) tail.shift();
      opts.onLine?.(line);
    };
    const lineReader = (isStdout: boolean) => {
      let partial = "";
      return {
        push: (text: string) => {
          if (isStdout && stdout.length < MAX_STDOUT_CHARS) stdout += text;
          const lines = (partial + text).split(/\r?\n/);
          partial = lines.pop() ?? "";
          for (const raw of lines) emit(raw);
        },
        flush: () => emit(partial),
      };
    };
    const out = lineReader(true);
    const err = lineReader(false);
    // setEncoding keeps a multi-byte character split across chunks intact
    child.stdout?.setEncoding("utf8").on("data", out.push);
    child.stderr?.setEncoding("utf8").on("data", err.push);
    child.once("error", (e) => reject(opts.signal?.aborted ? opts.signal.reason : e));
    child.once("close", (exitCode, signal) => {
      out.flush();
      err.flush();
      if (opts.signal?.aborted) reject(opts.signal.reason);
      else resolve({ exitCode, signal, stdout, tail });
    });
  });
}
