// Renders the results as markdown: one table per scenario with ratios against the raw relay
// and the best peer (the storm: against the floor server; the cold load: against the store's
// own read), then Concord's targets (issue 9) as pass/fail.
const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '–' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v))
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null)
const x = (r) => (r === null ? '–' : `${r.toFixed(2)}×`)

function best(results, servers, metric, lowerIsBetter) {
  let value = null
  for (const [name, r] of Object.entries(results)) {
    if (!servers[name]?.peer || r.error) continue
    const v = metric(r)
    if (typeof v !== 'number') continue
    if (value === null || (lowerIsBetter ? v < value : v > value)) value = v
  }
  return value
}

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/// How long a timed scenario was measured, in how many slices, after what warm-up.
const timing = (p) => `${p.duration} s per server in ${p.slices} slices, servers in turn${p.warmup ? `, after ${p.warmup} s unmeasured warm-up each` : ''}`

/// Concord's figure over the others' best (lowest), slice by slice: slice k of each server
/// ran next to the others', so their ratio is free of the drift between slices. `key` names
/// the per-slice figures: `perSlice` (µs per update) or `p99PerSlice`.
function pairedRatios(c, others, key = 'perSlice') {
  const theirs = others.filter((o) => o?.[key])
  if (!c?.[key] || theirs.length === 0) return null
  const lowest = (i) => Math.min(...theirs.map((o) => o[key][i] ?? Infinity))
  const r = c[key].map((v, i) => ratio(v, lowest(i))).filter((v) => v !== null).sort((a, b) => a - b)
  return r.length ? { median: r[Math.floor(r.length / 2)], min: r[0], max: r[r.length - 1] } : null
}

/// One line of slice-by-slice ratios, or none.
function pairedLine(what, paired) {
  return paired ? ['', `${what}, slice by slice: median ${x(paired.median)}, from ${x(paired.min)} to ${x(paired.max)}.`] : []
}

const TITLES = {
  scaleout: (p) => `scale-out: ${p.rooms} rooms × ${p.clients} clients spread over the instances (writers on the first), ${p.writers} writers per room at ${p.rate} keystrokes/s, ${p.duration} s after ${p.warmup} s warm-up; then ${p.joiners} fresh clients join a ${p.edits}-edit document`,
  soak: (p) => `soak: ${p.minutes} min, every server at once, each ${p.rooms} rooms × (${p.writers} writers at ${p.rate} keystrokes/s + ${p.readers} readers), one reader per room replaced by a fresh joiner every ${p.churn} s; sampled every ${p.sample} s`,
  typing: (p) => `typing: ${p.rooms} rooms × ${p.clients} clients, ${p.writers} writers per room at ${p.rate} keystrokes/s, ${timing(p)}`,
  fanout: (p) => `fan-out: ${p.rooms} rooms × ${p.clients} clients, ${p.writers} writers per room, window ${p.window} unseen keystrokes per writer, ${timing(p)}`,
  awareness: (p) => `awareness: ${p.rooms} rooms × ${p.clients} clients, each moving its cursor ${p.rate}×/s, ${timing(p)}`,
  join: (p) => `join: ${p.clients} clients join at once a room holding a ${p.edits}-edit document (median of ${p.rounds} rounds)`,
  idle: (p) => `idle: ${p.conns} connections over ${p.rooms} rooms (RSS after a full GC${p.rounds > 1 ? `; each server's median of ${p.rounds} interleaved rounds` : ''})`,
  storm: (p, mb, recent) => `storm: ${p.clients} clients join at once a room holding a ${fmt(mb ?? p.mb, 2)} MB ${p.shape === 'map' ? 'spreadsheet (Y.Array of Y.Maps)' : 'Y.Text'} document (encoded size), ${p.quiet ? `quiet for ${p.quiet} s after it was seeded, then ` : ''}${recent ? 'one small edit after it was loaded (no encoding made before can serve)' : 'no edit since it was loaded'}; each server alone`,
  coldload: (p, mb) => `coldload: the first joiner of a ${fmt(mb ?? p.mb, 2)} MB Y.Text document stored but not loaded (server just started), Concord only`,
}

/// A figure whose run may have left joiners without the document: `> timeout` then.
const msOrTimeout = (v, r, timeout) => (v === null && r.completed < r.clients ? `> ${timeout * 1000}` : fmt(v))

/// The storm: one table per variant (no recent edit, one), ratios to the floor server's run of
/// the same variant.
function renderStorm(out, byServer, servers, p) {
  const names = Object.keys(byServer)
  const variants = [...new Set(names.flatMap((n) => byServer[n].runs.map((r) => r.recent)))]
  for (const recent of variants) {
    const runOf = (n) => byServer[n].runs.find((r) => r.recent === recent)
    const mb = names.map(runOf).find((r) => r?.docMB)?.docMB
    const floor = names.includes('floor') ? runOf('floor') : null
    const f = floor && !floor.error ? floor : null
    out.push(`### ${TITLES.storm(p, mb, recent)}`, '')
    const rows = []
    const errors = []
    for (const n of names) {
      const r = runOf(n)
      if (!r) continue
      if (r.error) { errors.push(`${servers[n].label}: ${r.error.split('\n')[0]}`); continue }
      if (r.skipped) { rows.push([servers[n].label, `n/a (${r.skipped})`, ...Array(13).fill('')]); continue }
      rows.push([servers[n].label, msOrTimeout(r.lastMs, r, p.timeout), x(ratio(r.lastMs, f?.lastMs)), fmt(r.p50Ms), x(ratio(r.p50Ms, f?.p50Ms)),
        fmt(r.serverCpuMs), x(ratio(r.serverCpuMs, f?.serverCpuMs)), fmt(r.loadedRssMB), fmt(r.memoryFactor, 2), fmt(r.stormPeakRssMB), x(ratio(r.stormPeakRssMB, f?.stormPeakRssMB)),
        `${r.dropped}`, `${r.timedOut}`, r.whole && r.completed === r.clients ? 'yes' : r.whole ? `${r.completed} of ${r.clients}` : '**no**', fmt(r.genCpuPct)])
    }
    out.push(table(['server', 'last joiner ms', '× floor', 'p50 joiner ms', '× floor', 'server CPU ms', '× floor', 'RSS loaded MB', 'memory factor', 'peak RSS in storm MB', '× floor', 'dropped', 'timed out', 'whole document', 'generator CPU %'], rows))
    out.push('', `Times from the storm's start (every socket opened at once) to a joiner's whole sync step 2; a joiner without it after ${p.timeout} s timed out, one whose connection closed first was dropped. ` +
      'RSS loaded: the server\'s RSS after a full GC with the document loaded (and before the storm); memory factor: that RSS less the RSS before the document, over the document\'s encoded size. ' +
      'Peak RSS in storm: the highest VmRSS sampled every 50 ms during the storm (the JSON also has VmHWM, the whole life\'s peak, seeding included). ' +
      'Whole document: every joiner\'s copy carries the document\'s whole state vector, and the first five joiners\' copies read back to the same content.')
    if (errors.length) out.push('', ...errors.map((e) => `- error: ${e}`))
    out.push('')
  }
}

/// The cold load: one row per store and log, the ratio to the store's own read of the room.
function renderColdload(out, byServer, servers, p) {
  const names = Object.keys(byServer)
  const mb = names.flatMap((n) => byServer[n].runs).find((r) => r.docMB)?.docMB
  out.push(`### ${TITLES.coldload(p, mb)}`, '')
  const rows = []
  const errors = []
  for (const n of names) {
    for (const r of byServer[n].runs) {
      const what = r.store ? `${r.store}, ${r.log ? `log ${r.log}` : 'no log'}` : ''
      if (r.error) { errors.push(`${servers[n].label}${what ? ` (${what})` : ''}: ${r.error.split('\n')[0]}`); continue }
      if (r.skipped) { rows.push([servers[n].label, `n/a (${r.skipped})`, ...Array(10).fill('')]); continue }
      rows.push([servers[n].label, r.store, r.log ? `${r.log} (${fmt(r.logKB)} KB)` : '0', fmt(r.coldMs), fmt(r.storeReadMs), x(ratio(r.coldMs, r.storeReadMs)), fmt(r.coldCpuMs), fmt(r.warmMs), fmt(r.peakRssMB), fmt(r.loadedRssMB), r.whole ? 'yes' : '**no**'])
    }
  }
  out.push(table(['server', 'store', 'log updates', 'cold join ms', 'store read ms', '× store read', 'server CPU ms', 'warm join ms', 'peak RSS MB', 'RSS loaded MB', 'whole document'], rows))
  out.push('', 'Cold join: from the first joiner\'s connect (server running, room not loaded) to its whole sync step 2. ' +
    'Store read: the room\'s rows read by Concord\'s own storage module (`load(room)`), on a fresh connection, before the server started: the floor of a cold load. ' +
    'Warm join: a second joiner right after, the room loaded. Peak RSS: VmHWM of the fresh server process.')
  if (errors.length) out.push('', ...errors.map((e) => `- error: ${e}`))
  out.push('')
}

/// The soak: per server, RSS at the start, end and peak, the trends over the second half of
/// RSS and of the live heap (after a full GC), the ping round trips (event-loop lag seen
/// from outside), delivery p99, joins.
function renderSoak(out, byServer, servers, p) {
  out.push(`### ${TITLES.soak(p)}`, '')
  const rows = Object.entries(byServer).map(([n, r]) => r.error
    ? [servers[n].label, `error: ${r.error.split('\n')[0]}`, '', '', '', '', '', '', '', '', '', '', '', '']
    : [servers[n].label, fmt(r.rssFirstMB), fmt(r.rssLastMB), fmt(r.rssMaxMB), fmt(r.rssSlopeMBPerHour), fmt(r.rssAfterGcSlopeMBPerHour),
        `${fmt(r.liveHeapFirstMB)} → ${fmt(r.liveHeapLastMB)}`, fmt(r.liveHeapSlopeMBPerHour),
        fmt(r.pingP99MedianMs), fmt(r.pingP99MaxMs), fmt(r.deliveryP99MedianMs), fmt(r.joins), fmt(r.failedJoins), r.converged ? 'yes' : '**no**'])
  out.push(table(['server', 'RSS first MB', 'RSS last MB', 'RSS max MB', 'RSS trend, 2nd half, MB/h', 'RSS after GC trend, MB/h', 'live heap MB', 'live heap trend, MB/h',
    'ping p99 ms (median window)', 'ping p99 ms (worst window)', 'delivery p99 ms (median window)', 'joins', 'failed joins', 'converged'], rows))
  const docs = Object.values(byServer).find((r) => r.documentsMB !== undefined)?.documentsMB
  out.push('', 'Ping: a WebSocket ping every 100 ms on a connection of its own, answered from the server\'s event loop (its lag seen from outside). ' +
    'RSS is read from /proc at each sample; then the server runs a full GC and reports its live heap (V8\'s heap used) and RSS after it. ' +
    `Every server holds the documents, which only grow: ${docs === undefined ? "?" : fmt(docs, 2)} MB encoded at the end, from nothing. ` +
    'The JSON has every window\'s samples.', '')
  const before = Object.entries(byServer).filter(([, r]) => !r.error && r.empty?.liveHeapMB != null).map(([n, r]) => [servers[n].label,
    fmt(r.empty.liveHeapMB), fmt(r.gone.liveHeapMB), fmt(r.gone.arrayBuffersMB), fmt(r.empty.rssAfterGcMB), fmt(r.gone.rssAfterGcMB)])
  if (before.length === 0) return
  out.push(`Before the first client and ${p.leave ?? 45} s after the last one left (the rooms unloaded), after a full GC:`, '')
  out.push(table(['server', 'live heap empty MB', 'live heap after all left MB', 'array buffers after all left MB', 'RSS empty MB', 'RSS after all left MB'], before), '')
}

/// Scale-out: per server, 1 instance and n through Redis.
function renderScaleout(out, byServer, servers, p) {
  out.push(`### ${TITLES.scaleout(p)}`, '')
  const rows = []
  for (const [n, { runs }] of Object.entries(byServer)) {
    const one = runs.find((r) => r.instances === 1)
    for (const r of runs) {
      if (r.error) { rows.push([servers[n].label, '', `error: ${r.error.split('\n')[0]}`, '', '', '', '', '', '', '', '', '', '']); continue }
      rows.push([servers[n].label, fmt(r.instances), fmt(r.deliveredPerSec), x(ratio(r.deliveredPerSec, one?.deliveredPerSec)), fmt(r.serverCpuS), fmt(r.usPerUpdate, 2), fmt(r.localP50Ms, 2), fmt(r.localP99Ms, 2), fmt(r.remoteP50Ms, 2), fmt(r.remoteP99Ms, 2), fmt(r.joinMs), fmt(r.echoes), r.converged ? 'yes' : '**no**'])
    }
  }
  out.push(table(['server', 'instances', 'delivered/s', '× 1 instance', 'server CPU s (all instances)', 'µs/update', 'local p50 ms', 'local p99 ms', 'remote p50 ms', 'remote p99 ms', 'join burst ms', 'echoes', 'converged'], rows))
  out.push('', 'Local: receivers on the writers\' instance; remote: on another (through Redis). Every instance runs on the one server CPU, so more instances add no cores here: the figures show what crossing Redis costs, not what scaling out gains. ' +
    'Concord\'s instances share a PostgreSQL store; Hocuspocus runs without persistence, its instances joined by its Redis extension. Join burst: the last of the fresh joiners (spread over the instances) to get its sync step 2; converged includes the first three joiners\' copies holding the whole text.', '')
}

/// The whole report.
export function renderReport({ results, params, servers, machine, command, date }) {
  const out = [`## Concord benchmark (${date})`, '', `Machine: ${machine}.  `, `Command: \`${command}\``, '']
  const targets = []
  let genMax = null
  for (const [scenario, byServer] of Object.entries(results)) {
    if (scenario === 'storm' || scenario === 'coldload') {
      for (const r of Object.values(byServer)) if (typeof r.genCpuPct === 'number') genMax = Math.max(genMax, r.genCpuPct)
      ;(scenario === 'storm' ? renderStorm : renderColdload)(out, byServer, servers, params[scenario])
      continue
    }
    if (scenario === 'soak') {
      renderSoak(out, byServer, servers, params.soak)
      continue
    }
    if (scenario === 'scaleout') {
      renderScaleout(out, byServer, servers, params.scaleout)
      continue
    }
    out.push(`### ${TITLES[scenario](params[scenario])}`, '')
    const rawR = byServer.raw
    const names = Object.keys(byServer)
    const errors = names.filter((n) => byServer[n].error).map((n) => `${servers[n].label}: ${byServer[n].error.split('\n')[0]}`)
    for (const r of Object.values(byServer)) if (typeof r.genCpuPct === 'number') genMax = Math.max(genMax, r.genCpuPct)
    if (scenario === 'join') {
      const bestMs = best(byServer, servers, (r) => r.joinMs, true)
      const bestCpu = best(byServer, servers, (r) => r.joinCpuMs, true)
      out.push(table(['server', 'join time ms', '× best peer', 'join CPU ms', '× best peer', 'state KB', 'peak RSS MB', 'echoes', 'converged', 'generator CPU %'],
        names.filter((n) => !byServer[n].error).map((n) => {
          const r = byServer[n]
          if (r.skipped) return [servers[n].label, `n/a (${r.skipped})`, '', '', '', '', fmt(r.peakRssMB), '', '', '']
          return [servers[n].label, fmt(r.joinMs), x(ratio(r.joinMs, bestMs)), fmt(r.joinCpuMs), x(ratio(r.joinCpuMs, bestCpu)), fmt(r.stateKB), fmt(r.peakRssMB), fmt(r.echoes), r.converged ? 'yes' : '**no**', fmt(r.genCpuPct)]
        })))
      const c = byServer.concord
      if (c && !c.error) {
        targets.push(['join time ≤ 0.5× best peer', ratio(c.joinMs, bestMs), 0.5])
        targets.push(['join CPU ≤ 0.5× best peer', ratio(c.joinCpuMs, bestCpu), 0.5])
      }
    } else if (scenario === 'idle') {
      const bestKb = best(byServer, servers, (r) => r.kbPerConn, true)
      out.push(table(['server', 'KB per connection', '× raw', '× best peer', 'KB per room', 'RSS base MB', 'RSS full MB', 'peak RSS MB', 'open at end', 'echoes'],
        names.filter((n) => !byServer[n].error).map((n) => {
          const r = byServer[n]
          return [servers[n].label, fmt(r.kbPerConn), x(ratio(r.kbPerConn, rawR?.kbPerConn)), x(ratio(r.kbPerConn, bestKb)), fmt(r.kbPerRoom), fmt(r.baseMB), fmt(r.fullMB), fmt(r.peakRssMB), `${r.open}`, fmt(r.echoes)]
        })))
      const c = byServer.concord
      if (c && !c.error) targets.push(['idle KB/conn ≤ 1.1× raw relay', ratio(c.kbPerConn, rawR?.kbPerConn), 1.1])
    } else {
      const bestUs = best(byServer, servers, (r) => r.usPerUpdate, true)
      const bestRate = best(byServer, servers, (r) => r.updatesPerSec, false)
      const bestP99 = best(byServer, servers, (r) => r.latencyMs?.p99, true)
      out.push(table(['server', 'delivered/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'server CPU s', 'µs/update', '× raw', '× best peer', 'peak RSS MB', 'echoes', 'lost', 'converged', 'generator CPU %'],
        names.filter((n) => !byServer[n].error).map((n) => {
          const r = byServer[n]
          const l = r.latencyMs ?? {}
          return [servers[n].label, fmt(r.updatesPerSec), fmt(l.p50, 2), fmt(l.p95, 2), fmt(l.p99, 2), fmt(l.max, 2), fmt(r.serverCpuSec, 2), fmt(r.usPerUpdate, 2),
            x(ratio(r.usPerUpdate, rawR?.usPerUpdate)), x(ratio(r.usPerUpdate, bestUs)), fmt(r.peakRssMB), fmt(r.echoes), fmt(r.lost), r.converged ? 'yes' : '**no**', fmt(r.genCpuPct)]
        })))
      const c = byServer.concord
      if (c && !c.error) {
        if (scenario === 'typing') {
          targets.push(['typing µs/update ≤ 1.1× raw relay', ratio(c.usPerUpdate, rawR?.usPerUpdate), 1.1])
          targets.push(['typing p99 ≤ best peer', ratio(c.latencyMs?.p99, bestP99), 1])
        } else if (scenario === 'fanout') {
          targets.push(['fan-out µs/update ≤ 0.7× Hocuspocus', ratio(c.usPerUpdate, byServer.hocuspocus?.usPerUpdate), 0.7])
          targets.push(['fan-out delivered/s ≥ best peer', ratio(bestRate, c.updatesPerSec), 1])
        } else targets.push(['awareness µs/update ≤ 1.1× raw relay', ratio(c.usPerUpdate, rawR?.usPerUpdate), 1.1])
      }
    }
    if (scenario !== 'join' && scenario !== 'idle') {
      const c = byServer.concord
      const base = byServer['concord-baseline']
      const peers = names.filter((n) => servers[n].peer && !byServer[n].error).map((n) => byServer[n])
      out.push(...pairedLine("Concord's µs/update over the relay's", pairedRatios(c, [rawR])))
      out.push(...pairedLine("Concord's µs/update over the baseline's", pairedRatios(c, [base])))
      if (scenario === 'typing') {
        out.push(...pairedLine("Concord's p99 over the best peer's", pairedRatios(c, peers, 'p99PerSlice')))
        out.push(...pairedLine("Concord's p99 over the relay's", pairedRatios(c, [rawR], 'p99PerSlice')))
        out.push(...pairedLine("Concord's p99 over the baseline's", pairedRatios(c, [base], 'p99PerSlice')))
      }
    }
    if (errors.length) out.push('', ...errors.map((e) => `- error: ${e}`))
    out.push('')
  }
  const concord = Object.values(results).map((s) => s.concord).filter((r) => r && !r.error && !r.skipped)
  if (concord.length) {
    out.push('### Concord against the targets of issue 9', '')
    const rows = targets.map(([name, r, limit]) => [name, r === null ? '–' : (name.includes('delivered/s') ? `best peer / Concord = ${r.toFixed(2)}` : `${r.toFixed(2)}×`), r === null ? '–' : r <= limit ? 'pass' : '**fail**'])
    const echoes = concord.reduce((n, r) => n + (r.echoes ?? 0), 0)
    rows.push(['zero echoes', String(echoes), echoes === 0 ? 'pass' : '**fail**'])
    const conv = concord.every((r) => r.converged)
    rows.push(['converged everywhere', conv ? 'yes' : 'no', conv ? 'pass' : '**fail**'])
    out.push(table(['target', 'measured', ''], rows), '')
  }
  // Scale-out and soak do not measure the generator: say nothing rather than 0%.
  if (genMax !== null) out.push(genMax > 90
    ? `**The load generator reached ${genMax}% of its core: figures where it did may be generator-bound.**`
    : `The load generator peaked at ${genMax}% of its core, so it was not the bottleneck.`)
  return out.join('\n')
}
