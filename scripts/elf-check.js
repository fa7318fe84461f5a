'use strict'
// Reads what the dynamic loader will see in a 64-bit little-endian ELF shared
// object (DT_NEEDED, the symbol versions it requires, the symbols it defines
// for export, text relocations) and checks the prebuild policy of SPEC §8.
// Plain Node on purpose: a fresh machine has no binutils (nm, objdump, ldd).
//
//   node scripts/elf-check.js <file.node>   prints the facts; exit 1 on a violation
const fs = require('fs')

// Debian 11 bullseye; Node 20 itself needs GLIBC_2.28.
const GLIBC_FLOOR = '2.31'
// What a Node process has loaded already; anything else must not be needed.
const ALLOWED_NEEDED = ['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2',
  'ld-linux-x86-64.so.2', 'libstdc++.so.6', 'libgcc_s.so.1']
const EXPORTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1']

const SHT_DYNSYM = 11
const SHT_DYNAMIC = 6
const SHT_GNU_VERNEED = 0x6ffffffe
const DT_NEEDED = 1
const DT_TEXTREL = 22
const DT_FLAGS = 30
const DF_TEXTREL = 0x4

function cstring (buf, off) {
  const end = buf.indexOf(0, off)
  return buf.toString('latin1', off, end < 0 ? buf.length : end)
}

/** { needed, versions, exports, textrel } of an ELF64 LE file's dynamic part. */
function readElf (file) {
  const b = fs.readFileSync(file)
  if (b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`)
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF file`)
  const shoff = Number(b.readBigUInt64LE(0x28))
  const shentsize = b.readUInt16LE(0x3a)
  const shnum = b.readUInt16LE(0x3c)
  const sections = []
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize
    sections.push({
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      info: b.readUInt32LE(o + 0x2c),
      entsize: Number(b.readBigUInt64LE(o + 0x38))
    })
  }
  const strtab = (s) => (off) => cstring(b, sections[s.link].offset + off)

  const needed = []
  let textrel = false
  for (const s of sections.filter((x) => x.type === SHT_DYNAMIC)) {
    const str = strtab(s)
    for (let o = s.offset; o < s.offset + s.size; o += 16) {
      const tag = Number(b.readBigInt64LE(o))
      const val = b.readBigUInt64LE(o + 8)
      if (tag === 0) break
      if (tag === DT_NEEDED) needed.push(str(Number(val)))
      if (tag === DT_TEXTREL || (tag === DT_FLAGS && (val & BigInt(DF_TEXTREL)))) textrel = true
    }
  }

  // Verneed: per needed file, the version names (GLIBC_2.14, …) it must provide.
  const versions = []
  for (const s of sections.filter((x) => x.type === SHT_GNU_VERNEED)) {
    const str = strtab(s)
    let o = s.offset
    for (let n = 0; n < s.info; n++) {
      const file = str(b.readUInt32LE(o + 4))
      let a = o + b.readUInt32LE(o + 8)
      for (let k = b.readUInt16LE(o + 2); k > 0; k--) {
        versions.push({ file, name: str(b.readUInt32LE(a + 8)) })
        a += b.readUInt32LE(a + 12)
      }
      o += b.readUInt32LE(o + 12)
    }
  }

  // Exported = defined (st_shndx != UNDEF), global or weak, not hidden.
  const exports = []
  for (const s of sections.filter((x) => x.type === SHT_DYNSYM)) {
    const str = strtab(s)
    for (let o = s.offset + s.entsize; o < s.offset + s.size; o += s.entsize) {
      const bind = b[o + 4] >> 4
      const visibility = b[o + 5] & 3
      const shndx = b.readUInt16LE(o + 6)
      if (shndx !== 0 && (bind === 1 || bind === 2) && visibility !== 2) exports.push(str(b.readUInt32LE(o)))
    }
  }
  return { needed, versions, exports: exports.sort(), textrel }
}

function versionAbove (v, floor) {
  const a = v.split('.').map(Number)
  const f = floor.split('.').map(Number)
  for (let i = 0; i < Math.max(a.length, f.length); i++) {
    if ((a[i] ?? 0) !== (f[i] ?? 0)) return (a[i] ?? 0) > (f[i] ?? 0)
  }
  return false
}

/** The policy violations of one binary, as sentences; [] when it conforms. */
function prebuildProblems (file) {
  const e = readElf(file)
  const problems = []
  for (const lib of e.needed) if (!ALLOWED_NEEDED.includes(lib)) problems.push(`needs ${lib}`)
  for (const v of e.versions) {
    const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(v.name)
    if (m && versionAbove(m[1], GLIBC_FLOOR)) problems.push(`requires ${v.name} (${v.file}), above the GLIBC_${GLIBC_FLOOR} floor`)
  }
  if (e.exports.join() !== EXPORTS.join()) problems.push(`exports ${e.exports.join(', ') || 'nothing'}; expected exactly ${EXPORTS.join(', ')}`)
  if (e.textrel) problems.push('has text relocations')
  return problems
}

module.exports = { readElf, prebuildProblems, versionAbove, GLIBC_FLOOR, ALLOWED_NEEDED, EXPORTS }

if (require.main === module) {
  const file = process.argv[2]
  if (!file) { console.error('usage: node scripts/elf-check.js <file.node>'); process.exit(2) }
  const e = readElf(file)
  const glibc = e.versions.filter((v) => v.name.startsWith('GLIBC_')).map((v) => v.name.slice(6))
    .sort((x, y) => versionAbove(x, y) ? 1 : versionAbove(y, x) ? -1 : 0)
  console.log(`${file}: needs ${e.needed.join(' ')}; highest GLIBC_${glibc.at(-1) ?? '(none)'}; exports ${e.exports.join(' ')}`)
  const problems = prebuildProblems(file)
  for (const p of problems) console.error(`${file}: ${p}`)
  process.exit(problems.length ? 1 : 0)
}
