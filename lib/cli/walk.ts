/**
 * Walking a store through the public API: literal keys in bytewise order
 * (`keys()`) and top-level names (the API has no root listing).
 */
import type { Snapshot } from '../index'
import { CliError, compareBytewise } from './common'

/** The read surface the commands use: a Store or a Snapshot. */
export type View = Pick<Snapshot, 'read' | 'readString' | 'type' | 'list' | 'resolve' | 'exists' | 'keys' | 'readLink'>

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

