/**
 * Walking a store through the public API: literal keys in bytewise order
 * (`keys()`), top-level names (the API has no root listing), and the stored
 * target of a link.
 */
import { open, LinkLoopError, type Snapshot, type Store } from '../index'
import { CliError, compareBytewise } from './common'

/** The read surface the commands use: a Store or a Snapshot. */
export type View = Pick<Snapshot, 'read' | 'readString' | 'type' | 'list' | 'resolve' | 'exists' | 'keys'>

const PAGE = 1024

// Sorts after every valid key that starts with `name/` (keys are at most
// 511 bytes; U+10FFFF is the largest UTF-8 sequence).
const SUBTREE_END = '\u{10FFFF}'.repeat(128)

/** Every literal key under `prefix` ('' = all), in bytewise order, paged. */
export function * iterKeys (view: View, prefix = ''): Generator<string> {
  let after: string | undefined
  for (;;) {
    const page = view.keys({ prefix, after, limit: PAGE })
    if (page.length === 0) return
    if (after !== undefined && compareBytewise(page[0], after) <= 0) {
      // A key that is not valid UTF-8 comes back altered, and paging after
      // the altered form finds it again.
      throw new CliError(`cannot walk past key ${JSON.stringify(after)}: a key near it is not valid UTF-8`)
    }
    yield * page
    if (page.length < PAGE) return
    after = page[page.length - 1]
  }
}

/** The first segment of every key, sorted bytewise: what `ls` shows at the top. */
export function topLevelNames (view: View): string[] {
  const names = new Set<string>()
  let after: string | undefined
  for (;;) {
    const [key] = view.keys({ after, limit: 1 })
    if (key === undefined) break
    const slash = key.indexOf('/')
    const name = slash < 0 ? key : key.slice(0, slash)
    if (after !== undefined && compareBytewise(key, after) <= 0) {
      throw new CliError(`cannot walk past key ${JSON.stringify(after)}: a key near it is not valid UTF-8`)
    }
    names.add(name)
    // `name` itself, then siblings such as `name-x` that sort between it and
    // `name/…`, then one seek over the whole `name/…` subtree.
    after = slash < 0 ? key : name + '/' + SUBTREE_END
  }
  return [...names].sort(compareBytewise)
}

/**
 * Reads the stored target of a literal link key. Uses the store's
 * `readLink()` when the library has it; otherwise resolves the link with a
 * second read-only handle limited to one hop, which finds the target unless
 * the target itself needs another hop (a chain) — then it returns undefined.
 */
export class LinkReader {
  readonly #store: Store
  #oneHop: Store | undefined

  constructor (store: Store) { this.#store = store }

  target (view: View, key: string): string | undefined {
    const native = (view as { readLink?: (p: string) => string | undefined }).readLink
    if (typeof native === 'function') return native.call(view, key)
    if (view.type(key, { follow: false }) !== 'link') return undefined
    this.#oneHop ??= open(this.#store.path, { readOnly: true, maxLinkDepth: 1 })
    try {
      return this.#oneHop.resolve(key)
    } catch (err) {
      if (err instanceof LinkLoopError) return undefined
      throw err
    }
  }

  /** Whether targets are exact for every link (the library has readLink()). */
  exact (view: View): boolean {
    return typeof (view as { readLink?: unknown }).readLink === 'function'
  }

  close (): void {
    this.#oneHop?.close()
    this.#oneHop = undefined
  }
}
