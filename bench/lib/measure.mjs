// Reading a process's CPU time and memory from /proc, and a latency histogram.
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/// User and system CPU seconds of a process, all its threads.
export function cpuTimes(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / TICKS, system: Number(fields[12]) / TICKS }
}

/// User + system CPU seconds of a process.
export function cpuSeconds(pid) {
  const { user, system } = cpuTimes(pid)
  return user + system
}

/// Current and peak resident memory of a process, in KB.
export function memoryKB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN)
  return { rss: field('VmRSS'), peak: field('VmHWM') }
}

/// Latencies in 10 µs buckets up to 10 s, with the exact maximum.
export class Histogram {
  constructor() {
    this.buckets = new Uint32Array(1_000_001)
    this.count = 0
    this.max = 0
  }
  add(ms) {
    if (ms < 0) ms = 0
    this.buckets[Math.min(1_000_000, Math.floor(ms * 100))]++
    this.count++
    if (ms > this.max) this.max = ms
  }
  clear() {
    this.buckets.fill(0)
    this.count = 0
    this.max = 0
  }
  percentile(p) {
    if (this.count === 0) return null
    const target = Math.ceil(this.count * p)
    let seen = 0
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]
      if (seen >= target) return (i + 1) / 100
    }
    return this.max
  }
  summary() {
    const r = (v) => (v === null ? null : Math.round(v * 100) / 100)
    return { p50: r(this.percentile(0.5)), p95: r(this.percentile(0.95)), p99: r(this.percentile(0.99)), max: r(this.count ? this.max : null) }
  }
}
