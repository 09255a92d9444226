/**
 * A fast `Schema.is` for a Struct whose fields are all strings refined by `Schema.pattern`, compiled from the Schema's
 * own AST (the regexes its refinements hold), so the Schema stays the single definition of the rules.
 *
 * Why: the request line is checked on every request, and `Schema.decodeUnknownEither(RequestLine)` cost ~2–3 µs of
 * the ~30–40 µs a connection costs on the default path (each request a new connection): it builds a parse result and
 * an Either per field. Three regex tests answer the same question. A Struct of any other shape (a transformation,
 * another refinement, a non-string field, an index signature) compiles to `undefined`, and the caller keeps the
 * Schema's own check.
 */
import * as AST from "effect/SchemaAST"
import * as Schema from "effect/Schema"

/** The regexes a string schema is refined by, innermost first; `undefined` if it is anything but patterns on String. */
const patternsOf = (ast: AST.AST): ReadonlyArray<RegExp> | undefined => {
  if (ast._tag === "StringKeyword") return []
  if (ast._tag !== "Refinement") return undefined
  const annotation = ast.annotations[Schema.PatternSchemaId] as { readonly regex?: unknown } | undefined
  if (ast.annotations[AST.SchemaIdAnnotationId] !== Schema.PatternSchemaId || !(annotation?.regex instanceof RegExp)) {
    return undefined
  }
  const inner = patternsOf(ast.from)
  return inner === undefined ? undefined : [...inner, annotation.regex]
}

/**
 * Compiles `schema` (a Struct of pattern-refined strings) into a predicate over an object with those fields, or
 * `undefined` when its shape is not that.
 */
export const compilePatternStruct = <Fields extends Schema.Struct.Fields>(
  schema: Schema.Struct<Fields>
): ((value: { readonly [K in keyof Fields]: string }) => boolean) | undefined => {
  const ast = schema.ast
  if (ast._tag !== "TypeLiteral" || ast.indexSignatures.length > 0) return undefined
  const checks: Array<readonly [PropertyKey, ReadonlyArray<RegExp>]> = []
  for (const property of ast.propertySignatures) {
    const patterns = patternsOf(property.type)
    if (patterns === undefined || property.isOptional) return undefined
    // A global or sticky regex keeps state between tests (Schema.pattern resets `lastIndex` each time): the Schema's.
    if (patterns.some((re) => re.global || re.sticky)) return undefined
    checks.push([property.name, patterns])
  }
  return (value) => {
    for (const [name, patterns] of checks) {
      const text = (value as Record<PropertyKey, unknown>)[name]
      if (typeof text !== "string") return false
      for (const re of patterns) if (!re.test(text)) return false
    }
    return true
  }
}
