/**
 * An independent in-memory model of the store (SPEC §2), used by property
 * tests: literal keys → entries, with link resolution written from the spec
 * text, not from the native code.
 */
export type ModelEntry = { kind: 'simple', value: string } | { kind: 'group' } | { kind: 'link', target: string }

export class LoopError extends Error {}

export class Model {
  readonly entries = new Map<string, ModelEntry>()
  constructor (readonly maxLinkDepth = 32) {}

  static normalize (path: string): string { return path.split('/').filter(Boolean).join('/') }

  clone (): Model {
    const m = new Model(this.maxLinkDepth)
    for (const [k, v] of this.entries) m.entries.set(k, v)
    return m
  }

  /** [final path, entry or undefined] */
  resolve (path: string, followLast = true): [string, ModelEntry | undefined] {
    let p = Model.normalize(path)
    let hops = 0
    for (;;) {
      const e = Buffer.byteLength(p) > 511 ? undefined : this.entries.get(p)
      if (e !== undefined && (e.kind !== 'link' || !followLast)) return [p, e]
      if (e !== undefined) {
        if (++hops > this.maxLinkDepth) throw new LoopError()
        p = e.target
        continue
      }
      const segs = p.split('/')
      let redirected = false
      for (let i = 1; i < segs.length; i++) {
        const prefix = segs.slice(0, i).join('/')
        const pe = this.entries.get(prefix)
        if (pe?.kind === 'link') {
          if (++hops > this.maxLinkDepth) throw new LoopError()
          p = pe.target + '/' + segs.slice(i).join('/')
          redirected = true
          break
        }
      }
      if (!redirected) return [p, undefined]
    }
  }

  read (path: string): string | undefined {
    const [, e] = this.resolve(path)
    return e?.kind === 'simple' ? e.value : undefined
  }

  type (path: string, follow = true): string | undefined { return this.resolve(path, follow)[1]?.kind }

  list (path: string): string[] {
    const [p] = this.resolve(path)
    const names = new Set<string>()
    for (const k of this.entries.keys()) {
      if (k.startsWith(p + '/')) names.add(k.slice(p.length + 1).split('/')[0])
    }
    return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  }

  remove (path: string, recursive: boolean): boolean {
    const p = Model.normalize(path)
    let existed = this.entries.delete(p)
    if (recursive) {
      for (const k of [...this.entries.keys()]) if (k.startsWith(p + '/')) { this.entries.delete(k); existed = true }
    }
    return existed
  }
}
