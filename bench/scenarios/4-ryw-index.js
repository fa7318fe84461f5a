'use strict'
// Scenario 4: read-your-writes index build (the motlie_db case). An HNSW
// graph of random 32-dim vectors lives in the store; each insert is one
// durable transaction that reads neighbour lists (possibly rewritten earlier
// in the same transaction) and writes the updated lists. Recall@10 against
// brute force must be ≥ 0.9 or the figure does not count.
const { rng } = require('../lib/workload')
const { measure } = require('../lib/measure')
const { Hnsw, bruteForce } = require('../lib/hnsw')
const { rowsFor, variantOptions } = require('./common')
const fs = require('fs')
const path = require('path')

const DIMS = 32
const INDEX = { M: 8, efConstruction: 24 }
const EF_SEARCH = 300
const K = 10
const WRITERS = 64

function randomVectors (n, seed) {
  const r = rng(seed)
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(DIMS)
    for (let j = 0; j < DIMS; j++) v[j] = r()
    out[i] = v
  }
  return out
}

// a kv view that counts its calls
function counting (kv, counts) {
  return { get: k => { counts.reads++; return kv.get(k) }, put: (k, v) => { counts.writes++; kv.put(k, v) } }
}

async function build (h, mode, vectors, levels, index, counts) {
  const insert = i => kv => index.insert(counting(kv, counts), i, vectors[i], levels[i])
  if (mode === 'group') {
    h.check?.('transaction')
    return measure({ fn: i => h.kvAsync(insert(i)), iterations: vectors.length, async: true, concurrency: WRITERS })
  }
  return measure({ fn: i => h.kvSync(insert(i)), iterations: vectors.length })
}

module.exports = {
  id: '4',
  title: 'Read-your-writes index build (HNSW)',
  unit: 'inserts/s',
  describe: `HNSW (M=${INDEX.M}, efConstruction=${INDEX.efConstruction}) over random ${DIMS}-dim vectors, each insert one durable transaction reading its own writes; vectors and neighbour lists are read through the transaction every time, except in rows "vectors cached in JS" (each vector kept after its first read; neighbour lists still read through the transaction); recall@${K} with ef=${EF_SEARCH} vs brute force, must be ≥ 0.9`,
  rows: quick => rowsFor('4', { vectors: quick ? 300 : 10000, warmup: quick ? 30 : 300, queries: quick ? 50 : 200 }),

  async run ({ adapter, variant, dir, tmp, params }) {
    const { mode, cacheVectors = false } = variantOptions(adapter, '4', variant)
    // warm-up: a small throwaway index in its own store
    {
      fs.mkdirSync(path.join(tmp, 'warm'))
      const w = await adapter.open(path.join(tmp, 'warm'), { durability: 'sync' })
      const warm = new Hnsw({ ...INDEX, cacheVectors })
      const lr = rng(44)
      const wv = randomVectors(params.warmup, 45)
      await build(w, mode, wv, wv.map(() => warm.randomLevel(lr)), warm, { reads: 0, writes: 0 })
      await w.close()
    }
    const index = new Hnsw({ ...INDEX, cacheVectors })
    const vectors = randomVectors(params.vectors, 41)
    const lr = rng(43)
    const levels = vectors.map(() => index.randomLevel(lr))
    const h = await adapter.open(dir, { durability: 'sync' })
    try {
      const counts = { reads: 0, writes: 0 }
      const r = await build(h, mode, vectors, levels, index, counts)
      // every insert's promise or call has returned: all of it must be readable
      for (const id of [0, params.vectors - 1]) {
        if (!h.kvRead.get('hnsw/v/' + id)) throw new Error(`vector ${id} is not readable after its transaction returned`)
      }
      // recall is measured on a fresh index object: nothing cached from the build
      const reader = new Hnsw(INDEX)
      const queries = randomVectors(params.queries, 42)
      let hits = 0
      for (const q of queries) {
        const truth = new Set(bruteForce(vectors, q, K))
        for (const id of reader.search(h.kvRead, q, K, EF_SEARCH)) if (truth.has(id)) hits++
      }
      const recall = hits / (queries.length * K)
      return {
        ...r,
        recallAt10: recall,
        valid: recall >= 0.9,
        readsPerInsert: counts.reads / params.vectors,
        writesPerInsert: counts.writes / params.vectors,
        durable: !adapter.reference,
        note: variantOptions(adapter, '4', variant).note,
        index: { ...INDEX, efSearch: EF_SEARCH, dims: DIMS, queries: params.queries }
      }
    } finally {
      await h.close()
    }
  }
}
