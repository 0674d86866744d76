/**
 * Compiles a valibot schema into a predicate that allocates nothing, for the valid records
 * that are nearly all of them: valibot builds an output copy of every object it checks,
 * which costs as much as parsing the JSON. Records the predicate refuses go through valibot
 * itself, which decides and says why.
 *
 * Supported: object, nullish, nullable, string, number, boolean, array, and the `integer`,
 * `non_empty`, `regex` and `check` actions. The predicate is never more permissive than valibot
 * (it refuses arrays where an object is expected, which valibot lets through); a schema
 * with anything else compiles to `undefined`.
 * @module
 */

type Node = {
  type: string;
  entries?: Record<string, Node>;
  wrapped?: Node;
  item?: Node;
  pipe?: (Node & { kind: string; requirement?: unknown })[];
};

export type Check = (value: unknown) => boolean;

export function compileCheck(schema: unknown): Check | undefined {
  try {
    return compile(schema as Node);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

class Unsupported extends Error {}

function compile(node: Node): Check {
  const base = compileBase(node);
  const actions = (node.pipe ?? []).slice(1).map(compileAction);
  if (actions.length === 0) return base;
  return (v) => {
    if (!base(v)) return false;
    for (const a of actions) if (!a(v)) return false;
    return true;
  };
}

function compileBase(node: Node): Check {
  switch (node.type) {
    case "string": return (v) => typeof v === "string";
    case "number": return (v) => typeof v === "number" && !Number.isNaN(v);
    case "boolean": return (v) => typeof v === "boolean";
    case "nullish": {
      const inner = compile(node.wrapped!);
      return (v) => v === null || v === undefined || inner(v);
    }
    case "nullable": {
      const inner = compile(node.wrapped!);
      return (v) => v === null || inner(v);
    }
    case "array": {
      const item = compile(node.item!);
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
        return true;
      };
    }
    case "object": {
      const entries = Object.entries(node.entries ?? {});
      const checks = entries.map(([, n]) => compile(n));
      // Generated so that each property read has a constant key: `o[key]` with a variable
      // key is a megamorphic lookup, the slowest part of checking a parsed record.
      const body = entries.map(([key], k) => `c${k}(v[${JSON.stringify(key)}])`).join(" && ");
      const decl = checks.map((_, k) => `const c${k} = checks[${k}];`).join(" ");
      return new Function(
        "checks",
        "isArray",
        `${decl} return (v) => typeof v === "object" && v !== null && !isArray(v)${body ? ` && ${body}` : ""};`,
      )(checks, Array.isArray) as Check;
    }
  }
  throw new Unsupported(node.type);
}

function compileAction(action: Node & { kind: string; requirement?: unknown }): Check {
  if (action.kind !== "validation") throw new Unsupported(action.type);
  switch (action.type) {
    case "integer": return (v) => Number.isInteger(v);
    case "non_empty": return (v) => (v as string).length > 0;
    case "regex": {
      const re = action.requirement as RegExp;
      return (v) => {
        re.lastIndex = 0;
        return re.test(v as string);
      };
    }
    case "check": {
      const f = action.requirement as (v: unknown) => boolean;
      return (v) => f(v);
    }
  }
  throw new Unsupported(action.type);
}
