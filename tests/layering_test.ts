/**
 * The layering of src/: no import cycle between files, none between the folders of
 * {@link ACYCLIC_FOLDERS}, and the rules of {@link LAYER_RULES}. Imports are read from the
 * source text (static, type-only, re-exports and dynamic `import("…")`).
 * Runs under `bun test` and `deno test -A --no-check`.
 * @module
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * A folder (or file) of src/ that may not import from others. Paths are relative to src/,
 * `/`-separated; a folder covers everything under it. Tests beside the code (`*_test.ts`)
 * are exempt: they may wire an adapter to the core they test.
 */
interface LayerRule {
  from: string;
  mayNotImport: readonly string[];
  /** Why, for the failure message. */
  why: string;
}

/** Add a row to add a rule. */
const LAYER_RULES: readonly LayerRule[] = [
  { from: "ports", mayNotImport: ["core", "adapters"], why: "ports are interfaces only; the core and the adapters depend on them" },
  {
    from: "core",
    mayNotImport: ["adapters", "app", "cli", "telemetry", "main.ts"],
    why: "the core is handed its ports and settings; it never reaches for an adapter or the application around it",
  },
  {
    from: "core",
    mayNotImport: ["engine", "domains"],
    why: "the core holds the building blocks (Delta, Arrow, Kinesis records, leases); the engine and the domains use it, not the reverse",
  },
  {
    from: "engine",
    mayNotImport: ["domains", "adapters", "app", "cli", "config", "telemetry", "main.ts"],
    why: "the engine knows no domain: a domain is handed to it, and only the command wiring (src/app/domains.ts) chooses one",
  },
  {
    from: "domains",
    mayNotImport: ["adapters", "app", "cli", "config", "telemetry", "main.ts"],
    why: "a domain says what records mean and which tables they make; it is wired by the application, not the reverse",
  },
];

/**
 * Folders whose subfolders depend on each other one way only: no cycle among them even
 * when no file is in one (`core/arrow` → `core/delta` → `core/arrow`). Tests beside the
 * code are left out.
 */
const ACYCLIC_FOLDERS: readonly string[] = ["core", "engine", "domains"];

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Every .ts file under `dir`, as a path relative to src/ with `/` separators. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(relative(full));
  }
  return out.sort();
}

function relative(full: string): string {
  return path.relative(SRC, full).split(path.sep).join("/");
}

// Statements at the start of a line: `import … from "x"`, `export … from "x"`, `import "x"`.
// The clause between the keyword and `from` holds no quote and no semicolon, so the match
// cannot run on into the body of an `export function`.
const STATIC_IMPORT = /^(?:import|export)\b[^;"'`]*?\bfrom\s*(["'])([^"']+)\1/gm;
const BARE_IMPORT = /^import\s*(["'])([^"']+)\1/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*(["'])([^"']+)\1\s*\)/g;

/** The module specifiers a source text imports (type-only and dynamic imports included). */
function specifiersOf(text: string): string[] {
  const specifiers: string[] = [];
  for (const re of [STATIC_IMPORT, BARE_IMPORT, DYNAMIC_IMPORT]) {
    for (const m of text.matchAll(re)) specifiers.push(m[2]!);
  }
  return specifiers;
}

/** The files of src/ that `file` imports. */
function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const s of specifiersOf(fs.readFileSync(path.join(SRC, file), "utf8"))) {
    if (!s.startsWith("./") && !s.startsWith("../")) continue;
    const target = relative(path.resolve(SRC, path.dirname(file), s));
    if (known.has(target)) out.add(target);
  }
  return [...out].sort();
}

function importGraph(): Map<string, string[]> {
  const files = sourceFiles(SRC);
  const known = new Set(files);
  return new Map(files.map((f) => [f, importsOf(f, known)]));
}

/**
 * One cycle per strongly connected component of the graph (Tarjan), each as the path of
 * files that leads back to its first one.
 */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return components.map((c) => cycleThrough(graph, new Set(c)));
}

/** The shortest cycle from the first file (in name order) of a component back to it. */
function cycleThrough(graph: ReadonlyMap<string, readonly string[]>, component: ReadonlySet<string>): string[] {
  const start = [...component].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const cycle = [start];
        for (let u = v; u !== start; u = previous.get(u)!) cycle.splice(1, 0, u);
        return [...cycle, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function inside(file: string, folder: string): boolean {
  return file === folder || file.startsWith(`${folder}/`);
}

/**
 * The graph of the subfolders of `folder` (files directly in it count as `folder` itself):
 * an edge where a file of one imports a file of another. Tests beside the code are left out.
 */
function folderGraph(graph: ReadonlyMap<string, readonly string[]>, folder: string): Map<string, string[]> {
  const sub = (file: string) => {
    const rest = file.slice(folder.length + 1).split("/");
    return rest.length > 1 ? `${folder}/${rest[0]}` : folder;
  };
  const out = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    if (!inside(file, folder) || file.endsWith("_test.ts")) continue;
    const from = sub(file);
    const edges = out.get(from) ?? new Set<string>();
    out.set(from, edges);
    for (const t of targets) if (inside(t, folder) && sub(t) !== from) edges.add(sub(t));
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

function failWith(problems: readonly string[], heading: string): void {
  if (problems.length > 0) assert.fail(`${heading}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
}

test("the cycle finder reports the path of a cycle", () => {
  const graph = new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts", "d.ts"]], ["d.ts", []]]);
  assert.deepEqual(findCycles(graph), [["a.ts", "b.ts", "c.ts", "a.ts"]]);
  assert.deepEqual(findCycles(new Map([["a.ts", ["b.ts"]], ["b.ts", []]])), []);
});

test("the import scanner sees static, type-only, re-exporting, bare and dynamic imports", () => {
  const text = [
    `import * as fs from "node:fs";`,
    `import {`,
    `  type A,`,
    `  b,`,
    `} from "./a.ts";`,
    `import type { C } from '../c.ts';`,
    `export { d } from "./d.ts";`,
    `export * from "./e.ts";`,
    `import "./f.ts";`,
    `/** Not an import: export function below. */`,
    `export function g(): string { return "from './no.ts'"; }`,
    `const h = await import("./h.ts");`,
  ].join("\n");
  assert.deepEqual(specifiersOf(text).sort(), ["../c.ts", "./a.ts", "./d.ts", "./e.ts", "./f.ts", "./h.ts", "node:fs"]);
  const graph = importGraph();
  assert.ok(graph.size > 10, `expected the files of ${SRC}, found ${graph.size}`);
  assert.ok(graph.get("bin.ts")?.includes("main.ts"), "bin.ts imports main.ts");
});

test("no module of src/ imports itself through a cycle", () => {
  failWith(findCycles(importGraph()).map((c) => c.map((f) => `src/${f}`).join(" → ")), "Import cycles in src/");
});

for (const folder of ACYCLIC_FOLDERS) {
  test(`the folders of src/${folder} import each other one way only`, () => {
    const cycles = findCycles(folderGraph(importGraph(), folder));
    failWith(cycles.map((c) => c.map((f) => `src/${f}/`).join(" → ")), `Folders of src/${folder} that import each other`);
  });
}

for (const rule of LAYER_RULES) {
  test(`nothing in src/${rule.from} imports from ${rule.mayNotImport.map((f) => `src/${f}`).join(", ")}`, () => {
    const broken: string[] = [];
    for (const [file, targets] of importGraph()) {
      if (!inside(file, rule.from) || file.endsWith("_test.ts")) continue;
      for (const t of targets) if (rule.mayNotImport.some((f) => inside(t, f))) broken.push(`src/${file} imports src/${t}`);
    }
    failWith(broken, `${rule.why}; found`);
  });
}
