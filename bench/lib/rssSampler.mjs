// A worker thread of the load generator that samples a process's resident memory (VmRSS in
// /proc/PID/status) every `intervalMs`, on an event loop of its own: the generator's main
// thread may be busy for long stretches receiving a storm's documents. Any message stops it;
// it answers with the peak it saw (KB) and how many samples it took.
import { readFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'

const { pid, intervalMs } = workerData
let peakKB = 0
let samples = 0
function sample() {
  try {
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
    if (kb > peakKB) peakKB = kb
    samples++
  } catch {
    // the process is gone: keep what was seen
  }
}
sample()
const timer = setInterval(sample, intervalMs)
parentPort.once('message', () => {
  clearInterval(timer)
  sample()
  parentPort.postMessage({ peakKB, samples })
  parentPort.close()
})
