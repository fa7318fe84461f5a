'use strict'
// Number formatting shared by the reports.

function formatRate (x) {
  if (x == null || !isFinite(x)) return '—'
  if (x >= 1e6) return (x / 1e6).toFixed(2) + 'M'
  if (x >= 1e4) return Math.round(x / 1e3) + 'k'
  if (x >= 1e3) return (x / 1e3).toFixed(1) + 'k'
  return x >= 100 ? String(Math.round(x)) : x.toFixed(1)
}

function formatMs (ms) {
  if (ms == null || !isFinite(ms)) return '—'
  if (ms === 0) return '0'
  if (ms < 0.01) return (ms * 1000).toFixed(2) + ' µs'
  if (ms < 1) return (ms * 1000).toFixed(0) + ' µs'
  if (ms < 100) return ms.toFixed(2) + ' ms'
  return Math.round(ms) + ' ms'
}

function formatRatio (r) {
  if (r == null || !isFinite(r)) return '—'
  return (r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(2)) + '×'
}

function formatInt (n) {
  return n == null ? '—' : Math.round(n).toLocaleString('en-US')
}

module.exports = { formatRate, formatMs, formatRatio, formatInt }
