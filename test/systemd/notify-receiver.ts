/**
 * A real sd_notify receiver for tests: a python3 process bound to an AF_UNIX/SOCK_DGRAM socket
 * in a temp directory, printing each datagram as a JSON line. Like systemd, it closes file
 * descriptors passed with a message, which is what completes systemd-notify's BARRIER=1 wait.
 * Test-only: the daemon itself never needs python.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const SCRIPT = `
import array, json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"ready": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    pid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
            for fd in fds:
                os.close(fd)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
    print(json.dumps({"data": data.decode("utf-8", "replace"), "pid": pid}), flush=True)
`;

/** One datagram: its newline-separated assignments and the sender pid from SCM_CREDENTIALS. */
export type Datagram = { lines: string[]; pid: number | null };

/** A running receiver; `messages` excludes systemd-notify's BARRIER=1 datagrams. */
export type NotifyReceiver = {
  socketPath: string;
  messages: Datagram[];
  /** Resolve once `count` messages have arrived; reject after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<Datagram[]>;
  close(): void;
};

/** Start a receiver and wait until its socket is bound. */
export async function startNotifyReceiver(): Promise<NotifyReceiver> {
  const dir = mkdtempSync(join(tmpdir(), "as-notify-"));
  const script = join(dir, "receiver.py");
  writeFileSync(script, SCRIPT);
  const socketPath = join(dir, "notify.sock");
  const child: ChildProcess = spawn("python3", [script, socketPath], { stdio: ["ignore", "pipe", "inherit"] });
  const messages: Datagram[] = [];
  let wake = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`notify receiver exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as { ready?: boolean; data?: string; pid?: number | null };
      if (m.ready) return resolve();
      if (m.data === "BARRIER=1") return;
      messages.push({ lines: (m.data ?? "").split("\n"), pid: m.pid ?? null });
      wake();
    });
  });
  await ready;
  return {
    socketPath,
    messages,
    waitFor: (count, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${messages.length} of ${count} messages`)), timeoutMs);
        const check = () => {
          if (messages.length < count) return;
          clearTimeout(timer);
          resolve(messages.slice());
        };
        wake = check;
        check();
      }),
    close: () => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
