/**
 * A tiny static file server for the web example: serves this folder at `/` and, with `--model DIR`,
 * an export folder at `/model/` (otherwise `./model/` inside this folder is served as is).
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read examples/web/serve.ts --model exported --port 8000
 * # then open http://127.0.0.1:8000/
 * ```
 *
 * Options: `--model DIR` (served at `/model/`), `--port N` (default 8000; 0 picks a free port). It prints
 * `serving <folder> at http://127.0.0.1:<port>/` once it listens.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".bin": "application/octet-stream",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
};

/** Options of {@linkcode staticHandler}. */
export interface StaticHandlerOptions {
  /** The folder served at `/`. */
  root: string;
  /**
   * Extra folders by URL prefix, e.g. `{ "/model/": "exported" }`.
   * @default {{}}
   */
  mounts?: Record<string, string>;
}

/**
 * A request handler that serves files (GET and HEAD) from `root` and from mounted folders; paths that
 * leave a folder are refused, folders serve their `index.html`.
 *
 * @example
 * ```ts ignore
 * import { staticHandler } from "./serve.ts";
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, staticHandler({ root: ".", mounts: { "/model/": "out" } }));
 * ```
 */
export function staticHandler(options: StaticHandlerOptions): (request: Request) => Promise<Response> {
  const mounts = Object.entries({ ...options.mounts ?? {}, "/": options.root })
    .map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : `${prefix}/`, resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length);
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed", { status: 405 });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url).pathname);
    } catch {
      return new Response("bad path", { status: 400 });
    }
    const [prefix, dir] = mounts.find(([p]) => path.startsWith(p) || `${path}/` === p)!;
    let file = normalize(join(dir, path.slice(prefix.length)));
    if (file !== dir && !file.startsWith(`${dir}/`)) return new Response("forbidden", { status: 403 });
    try {
      if ((await Deno.stat(file)).isDirectory) file = join(file, "index.html");
      const data = await Deno.readFile(file);
      const headers = {
        "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
        "cache-control": "no-store",
      };
      return new Response(request.method === "HEAD" ? null : data, { headers });
    } catch {
      return new Response("not found", { status: 404 });
    }
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      port: { type: "string", default: "8000" },
    },
  });
  const root = fileURLToPath(new URL(".", import.meta.url));
  const mounts: Record<string, string> = values.model ? { "/model/": values.model } : {};
  if (values.model && !(await Deno.stat(values.model).then((s) => s.isDirectory, () => false))) {
    console.error(`error: --model ${values.model} is not a folder`);
    Deno.exit(1);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port must be an integer 0..65535 (0: any free port), got '${values.port}'`);
    Deno.exit(2);
  }
  Deno.serve(
    {
      hostname: "127.0.0.1",
      port,
      onListen: ({ port }) => console.log(`serving ${root} at http://127.0.0.1:${port}/`),
    },
    staticHandler({ root, mounts }),
  );
}
