/**
 * Test helper for the browser tests: find Chromium, bound a wait, and serve `examples/web/` with a model.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SERVE = fileURLToPath(new URL("../examples/web/serve.ts", import.meta.url));
/** Longest wait for the server to listen and for one Chromium run. */
export const TIMEOUT_MS = 90_000;

/**
 * The Chromium binary: `$CHROMIUM_BIN` when set, else /usr/bin/chromium, or chromium /
 * chromium-browser on PATH; null when absent.
 */
export function findChromium(): string | null {
  const isFile = (path: string) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  };
  let path = "";
  try {
    const chosen = Deno.env.get("CHROMIUM_BIN");
    if (chosen !== undefined) return isFile(chosen) ? chosen : null;
    path = Deno.env.get("PATH") ?? "";
  } catch {
    return null;
  }
  if (isFile("/usr/bin/chromium")) return "/usr/bin/chromium";
  for (const dir of path.split(":").filter(Boolean)) {
    for (const name of ["chromium", "chromium-browser"]) if (isFile(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Runs `promise` with a deadline; `onTimeout` runs (to kill a process) when the deadline passes first. */
export async function withDeadline<T>(promise: Promise<T>, what: string, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what} took longer than ${TIMEOUT_MS / 1000} s`));
    }, TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts examples/web/serve.ts on a free port of 127.0.0.1 with `model` mounted at /model/. */
export async function startServer(model: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--allow-net=127.0.0.1",
      "--allow-read",
      SERVE,
      "--model",
      model,
      "--port",
      "0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  };
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const url = await withDeadline(
      (async () => {
        let text = "";
        while (true) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the server exited before listening: ${text}`);
          text += value;
          const m = text.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
          if (m) return m[1];
        }
      })(),
      "starting the server",
      () => child.kill("SIGKILL"),
    );
    await reader.cancel();
    return { url, stop };
  } catch (error) {
    await reader.cancel().catch(() => {});
    await stop();
    throw error;
  }
}
