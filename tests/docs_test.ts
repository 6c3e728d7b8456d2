/**
 * The documentation rules of the package:
 *
 * - every function and class that an entry point of `deno.json` ("exports") exports, and the project
 *   declares, has JSDoc with at least one `@example` (options interfaces and type aliases need none);
 * - `deno doc --lint` over all the entry points is clean (every export documented, no public symbol that
 *   refers to a type no entry point exports);
 * - the root stays a curated surface, not a re-export of everything;
 * - no code calls `console.assert`, which in Deno only prints: doc examples and tests assert with
 *   `node:assert` (this file only names it, to look for it).
 *
 * Re-exports count where their symbol is declared; symbols declared outside the project (npm packages)
 * are not checked.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../", import.meta.url);
const ROOT_DIR = fileURLToPath(ROOT);

/**
 * The most functions, classes, constants and namespaces `mod.ts` may export before it stops being a
 * curated root. Types are not counted: the root exports every type its signatures use (so that
 * `deno doc --lint mod.ts` alone is clean), and those follow from the values.
 */
const ROOT_VALUE_LIMIT = 60;
const VALUE_KINDS = new Set(["function", "class", "variable", "namespace", "enum"]);

interface DocTag {
  kind: string;
}

interface DocDeclaration {
  kind: string;
  /** `line` counts from 0. */
  location?: { filename: string; line: number };
  jsDoc?: { tags?: DocTag[] };
}

interface DocSymbol {
  name: string;
  declarations?: DocDeclaration[];
}

/** The declaration kinds that must carry an `@example`. */
const NEEDS_EXAMPLE = new Set(["function", "class"]);

/** The symbols of a `deno doc --json` document: `{ nodes: { <module>: { symbols } } }` or a plain list. */
function symbolsOf(doc: unknown): DocSymbol[] {
  const nodes = (doc as { nodes?: unknown }).nodes;
  if (Array.isArray(nodes)) return nodes as DocSymbol[];
  if (nodes !== null && typeof nodes === "object") {
    return Object.values(nodes as Record<string, { symbols?: DocSymbol[] }>).flatMap((m) => m.symbols ?? []);
  }
  throw new Error(`unexpected deno doc output: no "nodes" (keys: ${Object.keys(doc as object).join(", ")})`);
}

/**
 * `name (kind, file:line)` of every function and class declared under `root` (and not in a node_modules
 * folder) whose JSDoc has no `@example` tag, each once. `reference` declarations (re-exports) are
 * skipped: their symbol is checked where it is declared.
 */
function missingExamples(doc: unknown, root: URL): string[] {
  const missing = new Set<string>();
  for (const symbol of symbolsOf(doc)) {
    for (const declaration of symbol.declarations ?? []) {
      if (!NEEDS_EXAMPLE.has(declaration.kind)) continue;
      const file = declaration.location?.filename ?? "";
      if (!file.startsWith(root.href) || file.includes("/node_modules/")) continue;
      if ((declaration.jsDoc?.tags ?? []).some((tag) => tag.kind === "example")) continue;
      // deno doc counts lines from 0.
      const where = `${file.slice(root.href.length)}:${(declaration.location?.line ?? 0) + 1}`;
      missing.add(`${symbol.name} (${declaration.kind}, ${where})`);
    }
  }
  return [...missing];
}

/** 1-based numbers of the lines of `text` that call `console.assert`. */
function consoleAssertLines(text: string): number[] {
  const lines: number[] = [];
  text.split("\n").forEach((line, i) => {
    if (/\bconsole\s*\.\s*assert\b/.test(line)) lines.push(i + 1);
  });
  return lines;
}

/**
 * Paths of the repository (relative to its root) that hold none of our code: generated or installed
 * files, and this test, which names `console.assert` to look for it.
 */
const NOT_OURS = new Set([
  ".git",
  "node_modules",
  "runs",
  ".cache",
  "examples/web/model",
  "tests/docs_test.ts",
]);

/** Every `.ts`, `.js` and `.md` file under `dir`, except the paths of {@linkcode NOT_OURS}. */
async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    const rel = relative(ROOT_DIR, path).split("\\").join("/");
    if (NOT_OURS.has(rel) || entry.name === "node_modules") continue;
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.isFile && /\.(ts|js|md)$/.test(entry.name)) yield path;
  }
}

/** The entry points of `deno.json` ("exports"), as paths relative to the repository root. */
async function entryPoints(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT_DIR, "deno.json")));
  const exports = config.exports;
  if (typeof exports === "string") return [exports];
  assert.ok(
    exports !== null && typeof exports === "object",
    'deno.json: "exports" must be a string or a map',
  );
  return Object.values(exports as Record<string, string>);
}

/** Runs `deno doc ARGS...` in the repository root and returns its stdout (failing on a non-zero exit). */
async function denoDoc(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", ...args],
    cwd: ROOT_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  // deno doc --lint prints its findings on stderr; drop the colour codes.
  // deno-lint-ignore no-control-regex
  const err = new TextDecoder().decode(stderr).replace(/\x1b\[[0-9;]*m/g, "");
  assert.equal(code, 0, `deno doc ${args.join(" ")} failed:\n${err}`);
  return out;
}

Deno.test("missingExamples() lists project functions and classes without @example and skips the rest", () => {
  const root = new URL("file:///project/");
  const at = (filename: string, line: number) => ({ filename, line });
  const doc = {
    version: 1,
    nodes: {
      "file:///project/mod.ts": {
        symbols: [
          {
            name: "documented",
            declarations: [{
              kind: "function",
              location: at("file:///project/a.ts", 3),
              jsDoc: { tags: [{ kind: "example" }] },
            }],
          },
          {
            name: "undocumented",
            declarations: [{ kind: "function", location: at("file:///project/a.ts", 6) }],
          },
          {
            name: "Model",
            declarations: [{ kind: "class", location: at("file:///project/b.ts", 0), jsDoc: { tags: [] } }],
          },
          {
            name: "Options",
            declarations: [{
              kind: "interface",
              location: at("file:///project/a.ts", 9),
              jsDoc: { tags: [] },
            }],
          },
          { name: "Alias", declarations: [{ kind: "typeAlias", location: at("file:///project/a.ts", 12) }] },
          { name: "CONSTANT", declarations: [{ kind: "variable", location: at("file:///project/b.ts", 1) }] },
          {
            name: "reexported",
            declarations: [{ kind: "reference", location: at("file:///project/mod.ts", 2) }],
          },
          {
            name: "npmFunction",
            declarations: [{ kind: "function", location: at("file:///cache/npm/x.d.ts", 5) }],
          },
          {
            name: "vendored",
            declarations: [{ kind: "class", location: at("file:///project/node_modules/x/y.ts", 5) }],
          },
        ],
      },
      // The same function reached through a second entry point is listed once.
      "file:///project/other.ts": {
        symbols: [
          {
            name: "undocumented",
            declarations: [{ kind: "function", location: at("file:///project/a.ts", 6) }],
          },
        ],
      },
    },
  };
  assert.deepEqual(missingExamples(doc, root), [
    "undocumented (function, a.ts:7)",
    "Model (class, b.ts:1)",
  ]);
  assert.throws(() => missingExamples({ version: 1 }, root), /no "nodes"/);
});

Deno.test("consoleAssertLines() finds calls of console.assert, spaced or not, and nothing else", () => {
  const text = [
    "const x = 1;",
    " * console.assert(x === 1);",
    "console .assert(x);",
    'assert.equal(x, 1); // not console.log("assert")',
    "consoleAssert(x);",
  ].join("\n");
  assert.deepEqual(consoleAssertLines(text), [2, 3]);
  assert.deepEqual(consoleAssertLines(""), []);
});

Deno.test("every function and class exported by an entry point has JSDoc with an @example", async () => {
  const entries = await entryPoints();
  assert.ok(entries.includes("./mod.ts"), `deno.json exports no ./mod.ts: ${entries.join(", ")}`);
  const doc = JSON.parse(await denoDoc(["--json", ...entries]));
  const symbols = symbolsOf(doc);
  assert.ok(symbols.length > 200, `deno doc listed only ${symbols.length} symbols for ${entries.join(" ")}`);
  const missing = missingExamples(doc, ROOT);
  assert.deepEqual(
    missing,
    [],
    `${missing.length} exported functions and classes have no @example:\n  ${missing.join("\n  ")}`,
  );
});

Deno.test("deno doc --lint over every entry point is clean, and each has module documentation", async () => {
  const entries = await entryPoints();
  await denoDoc(["--lint", ...entries]);
  for (const entry of entries) {
    const text = await Deno.readTextFile(join(ROOT_DIR, entry));
    assert.match(
      text,
      /^\/\*\*[\s\S]*?@module[\s\S]*?\*\//,
      `${entry} has no module documentation (@module)`,
    );
  }
});

Deno.test("deno doc --lint mod.ts alone is clean: the root exports every type its signatures use", async () => {
  await denoDoc(["--lint", "mod.ts"]);
});

Deno.test("mod.ts is a curated root: the user's API, the internals behind subpaths", async () => {
  const symbols = symbolsOf(JSON.parse(await denoDoc(["--json", "mod.ts"])));
  const names = new Set(symbols.map((s) => s.name));
  const values = symbols.filter((s) => (s.declarations ?? []).some((d) => VALUE_KINDS.has(d.kind)));
  assert.ok(
    values.length <= ROOT_VALUE_LIMIT,
    `mod.ts exports ${values.length} functions, classes and constants (at most ${ROOT_VALUE_LIMIT}); ` +
      `export internals from a subpath`,
  );
  for (
    const name of ["AdaDfModel", "Trainer", "registerPlugin", "buildPlugins", "trainRun", "functional", "tf"]
  ) {
    assert.ok(names.has(name), `mod.ts does not export ${name}`);
  }
  // The equations reach the root only through the `functional` namespace, so that they cannot be
  // confused with the plugin factories (fuseDistributions vs fusedDistribution); layers stay internal.
  for (const name of ["fuseDistributions", "rankRegularization", "rampWeights", "conv2d", "Initializer"]) {
    assert.ok(!names.has(name), `mod.ts exports the internal ${name}`);
  }
});

Deno.test("no code calls console.assert (in Deno it only prints)", async () => {
  const found: string[] = [];
  for await (const path of sourceFiles(ROOT_DIR)) {
    for (const line of consoleAssertLines(await Deno.readTextFile(path))) {
      found.push(`${relative(ROOT_DIR, path)}:${line}`);
    }
  }
  assert.deepEqual(found, [], `console.assert only prints; use node:assert:\n  ${found.join("\n  ")}`);
});
