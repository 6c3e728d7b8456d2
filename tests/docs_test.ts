/**
 * Every symbol that `mod.ts` exports and the project declares has JSDoc with at least one `@example`
 * (the rule for publishing on JSR). Re-exports count where their symbol is declared; symbols declared
 * outside the project (npm packages) are not checked.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../", import.meta.url);

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
 * `name (kind, file:line)` of every declaration under `root` (and not in a node_modules folder) whose
 * JSDoc has no `@example` tag. `reference` declarations (re-exports) are skipped: their symbol is
 * checked where it is declared.
 */
function missingExamples(doc: unknown, root: URL): string[] {
  const missing: string[] = [];
  for (const symbol of symbolsOf(doc)) {
    for (const declaration of symbol.declarations ?? []) {
      if (declaration.kind === "reference") continue;
      const file = declaration.location?.filename ?? "";
      if (!file.startsWith(root.href) || file.includes("/node_modules/")) continue;
      if ((declaration.jsDoc?.tags ?? []).some((tag) => tag.kind === "example")) continue;
      // deno doc counts lines from 0.
      const where = `${file.slice(root.href.length)}:${(declaration.location?.line ?? 0) + 1}`;
      missing.push(`${symbol.name} (${declaration.kind}, ${where})`);
    }
  }
  return missing;
}

Deno.test("missingExamples() lists project declarations without @example and skips the others", () => {
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
            name: "Options",
            declarations: [{
              kind: "interface",
              location: at("file:///project/a.ts", 9),
              jsDoc: { tags: [] },
            }],
          },
          { name: "CONSTANT", declarations: [{ kind: "variable", location: at("file:///project/b.ts", 1) }] },
          {
            name: "reexported",
            declarations: [{ kind: "reference", location: at("file:///project/mod.ts", 2) }],
          },
          {
            name: "npmType",
            declarations: [{ kind: "typeAlias", location: at("file:///cache/npm/x.d.ts", 5) }],
          },
          {
            name: "vendored",
            declarations: [{ kind: "class", location: at("file:///project/node_modules/x/y.ts", 5) }],
          },
        ],
      },
    },
  };
  assert.deepEqual(missingExamples(doc, root), [
    "Options (interface, a.ts:10)",
    "CONSTANT (variable, b.ts:2)",
  ]);
  assert.throws(() => missingExamples({ version: 1 }, root), /no "nodes"/);
});

Deno.test("every export of mod.ts has JSDoc with an @example", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    cwd: fileURLToPath(ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, `deno doc --json mod.ts failed:\n${new TextDecoder().decode(stderr)}`);
  const doc = JSON.parse(new TextDecoder().decode(stdout));
  const symbols = symbolsOf(doc);
  assert.ok(symbols.length > 100, `deno doc listed only ${symbols.length} symbols`);
  const missing = missingExamples(doc, ROOT);
  assert.deepEqual(
    missing,
    [],
    `${missing.length} exported symbols have no @example:\n  ${missing.join("\n  ")}`,
  );
});
