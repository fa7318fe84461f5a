import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { open, BatchError, LinkLoopError, type Store, type BatchOp } from './helpers/lib'
import { tmpDir } from './helpers/tmp'
import { LoopError, Model } from './helpers/model'

const MAX_DEPTH = 6
const seg = fc.constantFrom('a', 'b', 'c', 'a-b', 'm')
const pathArb = fc.array(seg, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'))
const valueArb = fc.string({ maxLength: 6 })

type Step =
  | { kind: 'message', path: string, fields: Record<string, string>, links: Array<{ target: string, path: string }> }
  | { kind: 'batch', atomic: boolean, ops: BatchOp[] }
  | { kind: 'remove', path: string, recursive: boolean }
  | { kind: 'link', target: string, path: string }
  | { kind: 'write', path: string, value: string }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('message' as const),
    path: pathArb,
    fields: fc.dictionary(seg, valueArb, { maxKeys: 3 }),
    links: fc.array(fc.record({ target: pathArb, path: pathArb }), { maxLength: 2 })
  }),
  fc.record({
    kind: fc.constant('batch' as const),
    atomic: fc.boolean(),
    // unique paths: duplicates are a phase-1 error tested elsewhere
    ops: fc.uniqueArray(fc.oneof(
      fc.record({ op: fc.constantFrom('insert' as const, 'update' as const, 'replace' as const), path: pathArb, value: valueArb }),
      fc.record({ op: fc.constantFrom('remove' as const, 'group' as const), path: pathArb }),
      fc.record({ op: fc.constant('link' as const), target: pathArb, path: pathArb })
    ), { maxLength: 5, selector: (o) => o.path }) as fc.Arbitrary<BatchOp[]>
  }),
  fc.record({ kind: fc.constant('remove' as const), path: pathArb, recursive: fc.boolean() }),
  fc.record({ kind: fc.constant('link' as const), target: pathArb, path: pathArb }),
  fc.record({ kind: fc.constant('write' as const), path: pathArb, value: valueArb })
)

/** Applies a step to the model; returns the BatchError fields expected, if any. */
function applyToModel (model: Model, step: Step): { index: number, committed: number } | undefined {
  switch (step.kind) {
    case 'message':
      model.entries.set(step.path, { kind: 'group' })
      for (const [k, v] of Object.entries(step.fields)) model.entries.set(`${step.path}/${k}`, { kind: 'simple', value: v })
      for (const l of step.links) model.entries.set(l.path, { kind: 'link', target: l.target })
      return undefined
    case 'remove': model.remove(step.path, step.recursive); return undefined
    case 'link': model.entries.set(step.path, { kind: 'link', target: step.target }); return undefined
    case 'write': model.entries.set(step.path, { kind: 'simple', value: step.value }); return undefined
    case 'batch': {
      const work = model.clone()
      for (let i = 0; i < step.ops.length; i++) {
        const op = step.ops[i]
        const had = work.entries.has(op.path)
        if ((op.op === 'insert' && had) || (op.op === 'update' && !had)) {
          if (step.atomic) return { index: i, committed: 0 }
          for (const [k, v] of work.entries) model.entries.set(k, v)
          for (const k of [...model.entries.keys()]) if (!work.entries.has(k)) model.entries.delete(k)
          return { index: i, committed: i }
        }
        if (op.op === 'insert' || op.op === 'update' || op.op === 'replace') work.entries.set(op.path, { kind: 'simple', value: op.value as string })
        else if (op.op === 'remove') work.entries.delete(op.path)
        else if (op.op === 'group') work.entries.set(op.path, { kind: 'group' })
        else work.entries.set(op.path, { kind: 'link', target: op.target })
      }
      model.entries.clear()
      for (const [k, v] of work.entries) model.entries.set(k, v)
      return undefined
    }
  }
}

function applyToStore (store: Store, step: Step): unknown {
  try {
    switch (step.kind) {
      case 'message': store.writeMessage({ path: step.path, fields: step.fields, links: step.links }); break
      case 'remove': store.transactionSync((t) => t.remove(step.path, { recursive: step.recursive })); break
      case 'link': store.transactionSync((t) => t.makeLink(step.target, step.path)); break
      case 'write': store.transactionSync((t) => t.write(step.path, step.value)); break
      case 'batch': store.batch(step.ops, { atomic: step.atomic }); break
    }
  } catch (e) { return e }
  return undefined
}

function observe<T> (f: () => T): T | 'LOOP' {
  try { return f() } catch (e) {
    if (e instanceof LoopError || e instanceof LinkLoopError) return 'LOOP'
    throw e
  }
}

const PROBES = ['a', 'b', 'c', 'm', 'a-b', 'a/a', 'a/b', 'b/c', 'm/a-b', 'c/a/b', 'a/b/c', 'b/m/a']

function compare (store: Store, model: Model): void {
  for (const p of PROBES) {
    expect(observe(() => store.readString(p)), `read ${p}`).toEqual(observe(() => model.read(p)))
    expect(observe(() => store.type(p)), `type ${p}`).toEqual(observe(() => model.type(p)))
    expect(observe(() => store.type(p, { follow: false })), `lstat ${p}`).toEqual(observe(() => model.type(p, false)))
    expect(observe(() => store.resolve(p)), `resolve ${p}`).toEqual(observe(() => model.resolve(p)[0]))
    expect(observe(() => store.list(p)), `list ${p}`).toEqual(observe(() => model.list(p)))
  }
}

describe('store = model (property-based)', () => {
  it('random messages, batches (both lanes, with failing preconditions), removes and links', () => {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), (steps) => {
      const store = open(tmpDir('model'), { maxLinkDepth: MAX_DEPTH, durability: 'nosync' })
      const model = new Model(MAX_DEPTH)
      try {
        for (const step of steps) {
          const expected = applyToModel(model, step)
          const err = applyToStore(store, step) as any
          if (expected === undefined) {
            expect(err).toBeUndefined()
          } else {
            expect(err).toBeInstanceOf(BatchError)
            expect({ index: err.index, committed: err.committed }).toEqual(expected)
          }
          compare(store, model)
        }
      } finally {
        store.close()
      }
    }), { numRuns: 120 })
  })
})
