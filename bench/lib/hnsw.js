'use strict'
// A small HNSW graph index (Malkov & Yashunin) kept entirely in a key-value
// view { get(key) → bytes | undefined, put(key, bytes) }. Every neighbour list
// is read through the view, so an insert run inside one transaction reads
// what it has itself just written. Vectors are read through the view too,
// unless `cacheVectors` keeps each one in JS after its first read (vectors
// never change once written).
//   <p>v/<id>          the vector (Float32, little-endian)
//   <p>n/<level>/<id>  the neighbours at that level: Uint32 ids, then their
//                      Float32 distances to <id> (so pruning reads no vectors)
//   <p>meta            entry point id, top level (Uint32 × 2)

function f32 (bytes) {
  return bytes.byteOffset % 4 === 0
    ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2)
    : new Float32Array(bytes.slice().buffer)
}
function u32 (bytes) {
  return bytes.byteOffset % 4 === 0
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2)
    : new Uint32Array(bytes.slice().buffer)
}
const bytesOf = (typed) => new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)

function dist2 (a, b) {
  let s = 0
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; s += d * d }
  return s
}

// insert {id, d} into an array kept sorted by d
function insertSorted (arr, item) {
  let lo = 0; let hi = arr.length
  while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid].d < item.d) lo = mid + 1; else hi = mid }
  arr.splice(lo, 0, item)
}

class Hnsw {
  constructor ({ M = 16, efConstruction = 64, prefix = 'hnsw/', cacheVectors = false } = {}) {
    this.cache = cacheVectors ? new Map() : null
    this.M = M
    this.M0 = 2 * M
    this.efConstruction = efConstruction
    this.mL = 1 / Math.log(M)
    this.p = prefix
  }

  randomLevel (rand) { return Math.floor(-Math.log(1 - rand()) * this.mL) }

  vec (kv, id) {
    const hit = this.cache && this.cache.get(id)
    if (hit) return hit
    const b = kv.get(this.p + 'v/' + id)
    if (!b) throw new Error(`vector ${id} missing`)
    const v = f32(b)
    if (this.cache) this.cache.set(id, v)
    return v
  }

  // the raw list: ids in the first half, distances in the second
  neighbourBytes (kv, level, id) {
    const b = kv.get(this.p + 'n/' + level + '/' + id)
    if (!b) throw new Error(`neighbour list ${level}/${id} missing`)
    return b
  }

  neighbours (kv, level, id) {
    const b = this.neighbourBytes(kv, level, id)
    return u32(b).subarray(0, b.byteLength >> 3)
  }

  // items: [{ id, d }]
  setNeighbours (kv, level, id, items) {
    const buf = new ArrayBuffer(items.length * 8)
    const ids = new Uint32Array(buf, 0, items.length)
    const ds = new Float32Array(buf, items.length * 4, items.length)
    for (let i = 0; i < items.length; i++) { ids[i] = items[i].id; ds[i] = items[i].d }
    kv.put(this.p + 'n/' + level + '/' + id, new Uint8Array(buf))
  }

  // best-first search of one layer; returns up to ef {id, d}, nearest first
  searchLayer (kv, q, entries, ef, level) {
    const visited = new Set(entries.map(e => e.id))
    const candidates = entries.slice().sort((a, b) => a.d - b.d)
    const results = candidates.slice(0, ef)
    while (candidates.length) {
      const c = candidates.shift()
      if (results.length >= ef && c.d > results[results.length - 1].d) break
      for (const n of this.neighbours(kv, level, c.id)) {
        if (visited.has(n)) continue
        visited.add(n)
        const d = dist2(q, this.vec(kv, n))
        if (results.length < ef || d < results[results.length - 1].d) {
          const item = { id: n, d }
          insertSorted(candidates, item)
          insertSorted(results, item)
          if (results.length > ef) results.pop()
        }
      }
    }
    return results
  }

  insert (kv, id, vector, level) {
    kv.put(this.p + 'v/' + id, bytesOf(vector))
    const meta = kv.get(this.p + 'meta')
    if (!meta) {
      for (let l = 0; l <= level; l++) this.setNeighbours(kv, l, id, [])
      kv.put(this.p + 'meta', bytesOf(Uint32Array.of(id, level)))
      return
    }
    const [entry, top] = u32(meta)
    let eps = [{ id: entry, d: dist2(vector, this.vec(kv, entry)) }]
    for (let l = top; l > level; l--) eps = this.searchLayer(kv, vector, eps, 1, l)
    for (let l = Math.min(level, top); l >= 0; l--) {
      const found = this.searchLayer(kv, vector, eps, this.efConstruction, l)
      const max = l === 0 ? this.M0 : this.M
      const chosen = found.slice(0, this.M)
      this.setNeighbours(kv, l, id, chosen)
      for (const c of chosen) this.link(kv, l, c.id, { id, d: c.d }, max)
      eps = found
    }
    for (let l = top + 1; l <= level; l++) this.setNeighbours(kv, l, id, [])
    if (level > top) kv.put(this.p + 'meta', bytesOf(Uint32Array.of(id, level)))
  }

  // add `item` ({ id, d }) to the neighbour list of `node`; over `max`, drop
  // the farthest. The list may have been rewritten earlier in this same
  // transaction (read-your-writes).
  link (kv, level, node, item, max) {
    const b = this.neighbourBytes(kv, level, node)
    const n = b.byteLength >> 3
    const all = u32(b)
    const ds = f32(b).subarray(n)
    const list = []
    for (let i = 0; i < n; i++) list.push({ id: all[i], d: ds[i] })
    insertSorted(list, item)
    if (list.length > max) list.pop()
    this.setNeighbours(kv, level, node, list)
  }

  search (kv, q, k, ef) {
    const meta = kv.get(this.p + 'meta')
    if (!meta) return []
    const [entry, top] = u32(meta)
    let eps = [{ id: entry, d: dist2(q, this.vec(kv, entry)) }]
    for (let l = top; l > 0; l--) eps = this.searchLayer(kv, q, eps, 1, l)
    return this.searchLayer(kv, q, eps, Math.max(ef, k), 0).slice(0, k).map(r => r.id)
  }
}

// exact k nearest by brute force over in-memory vectors
function bruteForce (vectors, q, k) {
  const scored = vectors.map((v, id) => ({ id, d: dist2(q, v) }))
  scored.sort((a, b) => a.d - b.d)
  return scored.slice(0, k).map(s => s.id)
}

module.exports = { Hnsw, bruteForce, dist2 }
