'use strict'
/**
 * A scripted writer for the shim-driven tests (crash points, I/O errors,
 * power loss). argv: <package root> <plan.json>
 *
 * plan = { dir, durability, ctl, results, steps: [...] } where each step is
 *   { do: 'arm' | 'disarm' | 'reset' }          talk to the shim (ctl file)
 *   { do: 'write', api, seqs }                  one call of a write path
 *   { do: 'probe', seqs }                       which messages are readable now
 *   { do: 'reopen' }                            close every handle, open again
 *   { do: 'close' }
 * Each step appends one JSON line to `results` as soon as it finishes
 * (appendFileSync: it is in the kernel before the next step starts, so a
 * simulated crash never loses the record of a returned commit). A failed
 * write is recorded with everything the error says about itself, then the
 * script goes on. Exit status 0 = no crash.
 */
const fs = require('node:fs')
const [root, planFile] = process.argv.slice(2)
const lib = require(root)
const W = require('../lib/workload.cjs')
const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'))

const record = (r) => fs.appendFileSync(plan.results, JSON.stringify(r) + '\n')

function describeError (err) {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err) }
  const out = {
    name: err.constructor.name,
    code: err.code,
    lmdbCode: err.lmdbCode,
    errno: err.errno,
    retryable: err.retryable,
    message: err.message,
    typed: err instanceof lib.LmdbTxnError
  }
  if (err.cause instanceof Error) out.cause = describeError(err.cause)
  return out
}

let store = lib.open(plan.dir, { durability: plan.durability })

function readable (seq) {
  try {
    const m = W.message(seq)
    const got = []
    for (let i = 0; i < W.FIELDS; i++) got.push(store.readString(`by-seq/${W.pad(seq)}/f${i}`) === m.fields[`f${i}`])
    if (got.every(Boolean)) return 'complete'
    if (got.some(Boolean) || store.exists(m.path)) return 'partial'
    return 'absent'
  } catch (err) {
    return { error: describeError(err) }
  }
}

async function write (api, seqs) {
  if (api === 'begin') {
    // Inline, so the transaction object can be examined after a failure.
    let txn
    try {
      txn = store.begin()
      for (const seq of seqs) W.writeInto(txn, seq, { checkReads: true })
    } catch (err) {
      return { ok: false, error: describeError(err), during: 'begin/write' }
    }
    try {
      txn.commit()
      return { ok: true }
    } catch (err) {
      let next
      try { txn.write('after/failure', 'x'); next = 'accepted' } catch (e) { next = describeError(e) }
      return { ok: false, error: describeError(err), txnActive: txn.active, writeAfter: next }
    }
  }
  try {
    const r = W.APIS[api](store, seqs)
    if (Array.isArray(r)) {
      const settled = await Promise.allSettled(r)
      const failed = settled.filter((s) => s.status === 'rejected')
      if (failed.length) return { ok: false, error: describeError(failed[0].reason), rejected: failed.length, of: settled.length }
    }
    return { ok: true }
  } catch (err) {
    return { ok: false, error: describeError(err) }
  }
}

async function main () {
  for (const step of plan.steps) {
    switch (step.do) {
      case 'arm': case 'disarm': case 'reset':
        fs.writeFileSync(plan.ctl, step.do)
        record({ do: step.do })
        break
      case 'write': {
        const r = await write(step.api, step.seqs)
        record({ do: 'write', api: step.api, seqs: step.seqs, ...r })
        break
      }
      case 'probe':
        record({ do: 'probe', state: Object.fromEntries(step.seqs.map((s) => [s, readable(s)])) })
        break
      case 'reopen': {
        let closeError
        try { store.close() } catch (err) { closeError = describeError(err) }
        try {
          store = lib.open(plan.dir, { durability: plan.durability })
          record({ do: 'reopen', ok: true, closeError })
        } catch (err) {
          record({ do: 'reopen', ok: false, closeError, error: describeError(err) })
          return
        }
        break
      }
      case 'close':
        store.close()
        record({ do: 'close' })
        break
      default:
        throw new Error(`unknown step ${JSON.stringify(step)}`)
    }
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`steps failed: ${err && err.stack}\n`)
  process.exit(3)
})
