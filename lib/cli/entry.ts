/** What one literal key holds, for `ls -l`, `tree` and `get --json`. */
import { LinkLoopError, type EntryType } from '../index'
import type { View } from './walk'

export interface EntryInfo {
  /** The literal key. */
  path: string
  /** undefined: no entry of its own (an implicit parent). */
  type: EntryType | undefined
  /** Bytes of a simple value. */
  size?: number
  /** Stored target of a link (when it could be read). */
  target?: string
  /** The link's target has no entry and no children. */
  dangling?: boolean
  /** Resolving the link runs into a loop (LinkLoopError). */
  loop?: boolean
  /** Has entries under `path/`. */
  children: boolean
}

export function entryInfo (view: View, path: string): EntryInfo {
  const type = view.type(path, { follow: false })
  const info: EntryInfo = { path, type, children: view.keys({ prefix: path + '/', limit: 1 }).length > 0 }
  if (type === 'simple') info.size = view.read(path)?.length ?? 0
  if (type === 'link') {
    const target = view.readLink(path)
    if (target !== undefined) info.target = target
    try {
      info.dangling = isDangling(view, path)
    } catch (err) {
      if (!(err instanceof LinkLoopError)) throw err
      info.loop = true
    }
  }
  return info
}

/** A link whose final target has no entry and no children (LinkLoopError propagates). */
export function isDangling (view: View, path: string): boolean {
  return view.type(path) === undefined && view.list(path, { limit: 1 }).length === 0
}

/** `group`, `simple`, `link` or `-` (no entry). */
export function typeLabel (type: EntryType | undefined): string {
  return type ?? '-'
}

/** `target`, `target  (dangling)` or `target  (link loop)`. */
export function linkText (view: View, info: EntryInfo, ascii = false): string {
  let text = info.target
  if (text === undefined) {
    try { text = `${ascii ? '...' : '…'} -> ${view.resolve(info.path)}` } catch { text = '?' }
  }
  if (info.dangling === true) text += '  (dangling)'
  if (info.loop === true) text += '  (link loop)'
  return text
}
