/**
 * Request and response header fields: order and duplicates kept, names compared case-insensitively.
 *
 * @since 0.1.0
 */

/**
 * One header field as received or to be sent, name spelled as given.
 *
 * @since 0.1.0
 * @category models
 */
export type HeaderField = readonly [name: string, value: string]

/**
 * An ordered list of header fields with case-insensitive lookups, like Python's `email.message.Message`.
 *
 * @since 0.1.0
 * @category models
 */
export class Headers implements Iterable<HeaderField> {
  /** Lower-cased names, computed once so lookups on the hot path are plain string compares. */
  readonly #lowerNames: ReadonlyArray<string>

  constructor(readonly fields: ReadonlyArray<HeaderField>) {
    const lower = new Array<string>(fields.length)
    for (let i = 0; i < fields.length; i++) lower[i] = fields[i]![0].toLowerCase()
    this.#lowerNames = lower
  }

  /** The empty header list. */
  static readonly empty: Headers = new Headers([])

  /** Builds headers from a record or a list of fields. */
  static from(input: Record<string, string> | ReadonlyArray<HeaderField>): Headers {
    return new Headers(Array.isArray(input) ? input : Object.entries(input))
  }

  /** The first value for `name` (Python's `Message.get`), or `undefined`. */
  get(name: string): string | undefined {
    const key = name.toLowerCase()
    const names = this.#lowerNames
    for (let i = 0; i < names.length; i++) if (names[i] === key) return this.fields[i]![1]
    return undefined
  }

  /** Every value for `name`, in order (Python's `Message.get_all`). */
  getAll(name: string): ReadonlyArray<string> {
    const key = name.toLowerCase()
    const out: Array<string> = []
    for (let i = 0; i < this.#lowerNames.length; i++) if (this.#lowerNames[i] === key) out.push(this.fields[i]![1])
    return out
  }

  /** Whether at least one field is called `name`. */
  has(name: string): boolean {
    return this.#lowerNames.includes(name.toLowerCase())
  }

  /** How many fields there are, duplicates counted. */
  get size(): number {
    return this.fields.length
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.fields[Symbol.iterator]()
  }
}
