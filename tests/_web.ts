/**
 * Test helper for the browser tests: find Chromium, bound a wait, drive headless Chromium through its
 * DevTools protocol, and serve `examples/web/` with a model.
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

/**
 * Runs `promise` with a deadline of `ms` (TIMEOUT_MS unless given); `onTimeout` runs (to kill a process)
 * when the deadline passes first.
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  what: string,
  onTimeout: () => void,
  ms: number = TIMEOUT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what} took longer than ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The flags of every headless Chromium run: no sandbox, GPU, first-run screens or background traffic. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** An event of the DevTools protocol (`Runtime.consoleAPICalled`, `Log.entryAdded`, ...) and its parameters. */
export interface DevToolsEvent {
  method: string;
  params: Record<string, unknown>;
}

/** Headless Chromium attached through the DevTools protocol to its one page. */
export interface ChromiumPage {
  /**
   * Sends a command to the page and returns its result; rejects with the protocol's error, when the
   * connection closes, or past the deadline (which kills Chromium).
   */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Evaluates `expression` in the page and returns its value; rejects when it throws. */
  evaluate(expression: string): Promise<unknown>;
  /** Calls `listener` with each event of the page (after the domain's `*.enable`); returns the unsubscribe. */
  on(listener: (event: DevToolsEvent) => void): () => void;
  /** Whether the DevTools connection is still open (false once Chromium exits or `close` is called). */
  readonly connected: boolean;
  /** Closes the connection, kills Chromium and waits for it to exit; calling it again waits for the same. */
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with CHROMIUM_FLAGS, `flags` and the profile folder `profile` on about:blank,
 * and connects to its page over the DevTools WebSocket. Starting, connecting and each command are bounded
 * by `timeoutMs` (TIMEOUT_MS unless given); Chromium is killed when a deadline passes or the start fails.
 */
export async function openChromium(
  chromium: string,
  options: { profile: string; flags?: string[]; timeoutMs?: number },
): Promise<ChromiumPage> {
  const { profile, flags = [], timeoutMs = TIMEOUT_MS } = options;
  // Chromium's singleton lock lives in a folder of $TMPDIR that only a clean exit removes: keep it in
  // the profile, which the caller removes, since Chromium is killed.
  await Deno.mkdir(profile, { recursive: true });
  const child = new Deno.Command(chromium, {
    env: { TMPDIR: profile },
    args: [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      ...flags,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let socket: WebSocket | undefined;
  let disconnected = Promise.resolve();
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      socket?.close();
      kill();
      await child.status;
      await disconnected;
      await stderr.cancel().catch(() => {});
    })();
  try {
    const endpoint = await withDeadline(
      (async () => {
        let text = "";
        let browser: string | undefined;
        while (!browser) {
          const { value, done } = await stderr.read();
          if (done) throw new Error(`Chromium exited before listening: ${text.slice(-2000)}`);
          text += value;
          browser = text.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
        }
        // Keep draining Chromium's stderr so that it never blocks on a full pipe.
        (async () => {
          while (!(await stderr.read().catch(() => ({ done: true }))).done) { /* drain */ }
        })();
        while (true) {
          const list: { type: string; webSocketDebuggerUrl: string }[] =
            await (await fetch(`http://${new URL(browser).host}/json/list`)).json();
          const page = list.find((t) => t.type === "page");
          if (page) return page.webSocketDebuggerUrl;
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
      "starting Chromium",
      kill,
      timeoutMs,
    );
    const ws = socket = new WebSocket(endpoint);
    disconnected = new Promise<void>((resolve) => {
      ws.addEventListener("close", () => resolve());
      ws.addEventListener("error", () => resolve());
    });
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`cannot connect to Chromium's DevTools at ${endpoint}`));
      }),
      "connecting to Chromium",
      kill,
      timeoutMs,
    );
    let nextId = 0;
    const pending = new Map<
      number,
      { method: string; resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }
    >();
    const listeners = new Set<(event: DevToolsEvent) => void>();
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.id === undefined) {
        for (const listener of [...listeners]) listener({ method: m.method, params: m.params ?? {} });
        return;
      }
      const call = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) call?.reject(new Error(`${call.method}: ${m.error.message}`));
      else call?.resolve(m.result ?? {});
    };
    ws.addEventListener("close", () => {
      for (const call of pending.values()) {
        call.reject(new Error(`${call.method}: Chromium's DevTools closed`));
      }
      pending.clear();
    });
    const send = (method: string, params: Record<string, unknown> = {}) =>
      withDeadline(
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const id = ++nextId;
          pending.set(id, { method, resolve, reject });
          try {
            ws.send(JSON.stringify({ id, method, params }));
          } catch (error) {
            pending.delete(id);
            reject(error);
          }
        }),
        method,
        kill,
        timeoutMs,
      );
    const evaluate = async (expression: string) => {
      const { result, exceptionDetails } = await send("Runtime.evaluate", {
        expression,
        returnByValue: true,
      }) as {
        result?: { value?: unknown };
        exceptionDetails?: { text: string; exception?: { description?: string } };
      };
      if (exceptionDetails) {
        throw new Error(`${expression}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
      }
      return result?.value;
    };
    const on = (listener: (event: DevToolsEvent) => void) => {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    };
    return {
      send,
      evaluate,
      on,
      close,
      get connected() {
        return ws.readyState === WebSocket.OPEN;
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Removes `path`, retrying for a few seconds: Chromium's helpers may still write to a profile after it exits. */
export async function removeWithRetries(path: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await Deno.remove(path, { recursive: true });
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await Deno.remove(path, { recursive: true });
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
