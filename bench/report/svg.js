'use strict'
// bench/results/<name>.svg: a hand-written horizontal bar chart of the ratios
// lmdb-txn ÷ peer (log scale, 1× marked), no browser needed.
const { SUBJECT } = require('../peers')
const { ok } = require('./analyze')
const { formatRatio } = require('./format')

const SCENARIOS = ['1a', '1b', '1c', '2', '3', '4']
const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function bars (results) {
  const out = []
  const t = (results.targets || []).find(t => t.id === '1b-vs-1a')
  if (t && t.value != null) out.push({ label: 'lmdb-txn: 1b ÷ 1a (one txn per message vs per key)', ratio: t.value, muted: false })
  for (const s of results.scenarios.filter(s => SCENARIOS.includes(s.id))) {
    for (const r of s.rows) {
      if (r.peer === SUBJECT || !ok(r) || r.ratio == null) continue
      out.push({
        label: `${s.id} ${r.peer} ${r.variant}${r.group ? ' (' + r.group + ')' : ''}`,
        ratio: r.ratio,
        muted: r.result.durable === false || !!r.group
      })
    }
  }
  return out
}

function render (results) {
  const data = bars(results)
  const m = results.meta
  const rowH = 20
  const labelW = 430
  const plotW = 420
  const top = 58
  const width = labelW + plotW + 80
  const height = top + Math.max(1, data.length) * rowH + 40
  const lo = Math.min(0.1, ...data.map(d => d.ratio / 1.2))
  const hi = Math.max(10, ...data.map(d => d.ratio * 1.2))
  const x = v => labelW + (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) * plotW
  const ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter(t => t >= lo && t <= hi)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">lmdb-txn ÷ peer, same run (log scale; right of 1× = lmdb-txn faster)</text>`,
    `<text x="10" y="38" fill="#555">${esc(`${m.mode} run ${m.date.slice(0, 10)} · ${m.cpu} × ${m.cpuCount} · Node ${m.node} · ${m.fileSystem.type} · message = 1 group + 10 × 100 B fields + 3 links, random ids`)}</text>`
  ]
  const bottom = top + data.length * rowH
  for (const t of ticks) {
    parts.push(`<line x1="${x(t).toFixed(1)}" y1="${top - 4}" x2="${x(t).toFixed(1)}" y2="${bottom}" stroke="${t === 1 ? '#000' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`)
    parts.push(`<text x="${x(t).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#333">${t}×</text>`)
  }
  data.forEach((d, i) => {
    const y = top + i * rowH
    const x0 = x(1); const x1 = x(d.ratio)
    const fill = d.muted ? '#9e9e9e' : d.ratio >= 1 ? '#2e7d32' : '#e65100'
    parts.push(`<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(d.label)}</text>`)
    parts.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 3}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${rowH - 6}" fill="${fill}"/>`)
    parts.push(`<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + 14}" fill="#222">${formatRatio(d.ratio)}</text>`)
  })
  if (!data.length) parts.push(`<text x="10" y="${top + 14}">no ratios in this run</text>`)
  parts.push(`<text x="10" y="${height - 6}" fill="#777">grey: reference rows (not durable at return, or ascending ids) · see latest.md for workloads and absolute figures</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

module.exports = { render }
