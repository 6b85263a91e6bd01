// Test kit for scale-out: a private redis-server, a throw-away PostgreSQL database, real
// `concord` processes, and a client that keeps its document across reconnects and records
// which of its updates each connection acknowledged.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import pg from 'pg'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  decodeFrame, encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate,
} from '../server/protocol/messages.js'
import { sleep, waitFor } from './helpers.js'

/// A free TCP port on 127.0.0.1 (released before it is returned).
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

/// A redis-server of our own on a free port, without persistence, that can be stopped and
/// started again on the same port.
export interface PrivateRedis {
  readonly port: number
  readonly url: string
  stop(): Promise<void>
  start(): Promise<void>
}

async function pingRedis(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

/// Start a private redis-server.
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | null = null
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    const deadline = Date.now() + 10_000
    while (!(await pingRedis(url))) {
      if (Date.now() > deadline) throw new Error('private redis-server did not start')
      await sleep(50)
    }
  }
  await start()
  return {
    port,
    url,
    start,
    async stop() {
      const c = child
      if (!c || c.exitCode !== null) return
      const exited = new Promise((r) => c.once('exit', r))
      c.kill('SIGKILL')
      await exited
    },
  }
}

/// Delete every key under a prefix of the shared Redis (pub/sub leaves none; this is hygiene).
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length) await client.del(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
}


const concordBin = fileURLToPath(new URL('../bin/concord.js', import.meta.url))

/// A `node bin/concord.js` process.
export interface Instance {
  readonly url: string
  readonly child: ChildProcess
  /// Everything it printed, for failure messages.
  readonly output: string[]
  kill(signal: NodeJS.Signals): Promise<void>
}

/// Every process `startInstance` spawned, so a test's cleanup can kill even those that never
/// got as far as listening.
export const spawned = new Set<ChildProcess>()

/// SIGKILL every spawned process that is still running.
export async function killSpawned(): Promise<void> {
  await Promise.all([...spawned].map(async (child) => {
    spawned.delete(child)
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }))
}

/// Start `concord` with these flags on a free port; resolves once it listens (30 s at most).
export async function startInstance(args: string[]): Promise<Instance> {
  const child = spawn(process.execPath, [concordBin, '--host', '127.0.0.1', '--port', '0', '--editor', 'false', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  spawned.add(child)
  const output: string[] = []
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`concord did not listen within 30 s: ${output.join('\n')}`))
    }, 30_000)
    child.once('exit', () => clearTimeout(timer))
    let buffered = ''
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString()
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        output.push(line)
        const m = /listening on (ws:\/\/[0-9.:]+)/.exec(line)
        if (m) {
          clearTimeout(timer)
          resolve(m[1])
        }
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (c: Buffer) => output.push(c.toString()))
    child.once('exit', (code) => reject(new Error(`concord exited with ${code}: ${output.join('\n')}`)))
  })
  return {
    url,
    child,
    output,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill(signal)
      await exited
    },
  }
}

/// One connection's record: what it sent (updates and sync-step-2 replies, in order, as the
/// server counts them) and how many of those the server acknowledged as stored.
interface ConnectionRecord {
  ws: WebSocket
  sent: Uint8Array[]
  acked: number
}

/// A client that keeps one document and awareness across connections, like a browser tab
/// whose provider reconnects. Connects with `?ack=1`.
export class ClusterClient {
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  private current: ConnectionRecord | null = null
  private readonly finished: ConnectionRecord[] = []
  synced = false

  /// `clientID` pins the Yjs client id (a user moving from one instance to another).
  constructor(readonly room: string, readonly name: string, clientID?: number) {
    this.doc = new Y.Doc()
    if (clientID !== undefined) this.doc.clientID = clientID
    this.awareness = new awarenessProtocol.Awareness(this.doc)
    this.awareness.setLocalState({ user: name, cursor: 0 })
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return
      this.sendUpdate(encodeUpdate(update), update)
    })
    this.awareness.on('update', ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
      if (origin === this) return
      const changed = added.concat(updated, removed)
      this.sendRaw(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed)))
    })
  }

  get text(): string {
    return this.doc.getText('t').toString()
  }

  get connected(): boolean {
    return this.current !== null && this.current.ws.readyState === WebSocket.OPEN
  }

  /// Connect to an instance; resolves once synced.
  async connect(url: string): Promise<void> {
    this.synced = false
    const ws = new WebSocket(`${url}/${encodeURIComponent(this.room)}?ack=1`)
    const record: ConnectionRecord = { ws, sent: [], acked: 0 }
    ws.binaryType = 'nodebuffer'
    ws.on('error', () => undefined)
    ws.on('message', (data: Buffer) => this.onMessage(record, new Uint8Array(data)))
    ws.on('close', () => {
      if (this.current === record) {
        this.current = null
        this.finished.push(record)
      }
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    this.current = record
    ws.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    ws.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID])))
    await waitFor(() => this.synced, `${this.name} to sync`, 20_000)
  }

  private onMessage(record: ConnectionRecord, frame: Uint8Array): void {
    for (const message of decodeFrame(frame)) {
      switch (message.type) {
        case 'syncStep1': {
          const reply = Y.encodeStateAsUpdate(this.doc, message.stateVector)
          record.sent.push(reply)
          if (record.ws.readyState === WebSocket.OPEN) record.ws.send(encodeSyncStep2(reply))
          break
        }
        case 'syncStep2':
          Y.applyUpdate(this.doc, message.update, this)
          this.synced = true
          break
        case 'update':
          Y.applyUpdate(this.doc, message.update, this)
          break
        case 'awareness':
          awarenessProtocol.applyAwarenessUpdate(this.awareness, message.update, this)
          break
        case 'ack':
          record.acked = Math.max(record.acked, message.count)
          break
        default:
          break
      }
    }
  }

  private sendUpdate(frame: Uint8Array, update: Uint8Array): void {
    const c = this.current
    // Offline: the next connection's sync step 2 carries the edit.
    if (!c || c.ws.readyState !== WebSocket.OPEN) return
    c.sent.push(update)
    c.ws.send(frame)
  }

  sendRaw(frame: Uint8Array): void {
    if (this.current?.ws.readyState === WebSocket.OPEN) this.current.ws.send(frame)
  }

  /// Every update a server acknowledged as stored, over all connections.
  acknowledged(): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const r of [...this.finished, ...(this.current ? [this.current] : [])]) out.push(...r.sent.slice(0, r.acked))
    return out
  }

  /// Whether the current connection's updates are all acknowledged.
  get allAcked(): boolean {
    return this.current !== null && this.current.acked >= this.current.sent.length
  }

  /// Client ids whose awareness state this client sees.
  get seenUsers(): Set<string> {
    const out = new Set<string>()
    for (const state of this.awareness.getStates().values()) if (typeof state.user === 'string') out.add(state.user)
    return out
  }

  /// Close the connection (like a network drop the client notices).
  disconnect(): void {
    this.current?.ws.terminate()
  }

  destroy(): void {
    this.current?.ws.terminate()
    this.awareness.destroy()
    this.doc.destroy()
  }
}

/// One random edit (insert or delete) on the client's text; moves its cursor like an editor.
export function randomEdit(client: ClusterClient, random: () => number): void {
  const text = client.doc.getText('t')
  const len = text.length
  if (len > 0 && random() < 0.3) {
    const at = Math.floor(random() * len)
    text.delete(at, Math.min(len - at, 1 + Math.floor(random() * 4)))
  } else {
    const at = Math.floor(random() * (len + 1))
    text.insert(at, String.fromCharCode(97 + Math.floor(random() * 26)).repeat(1 + Math.floor(random() * 3)))
  }
  client.awareness.setLocalStateField('cursor', Math.floor(random() * (text.length + 1)))
}

/// Whether every acknowledged update is contained in the document: applying it changes nothing.
export function contains(stored: Uint8Array, updates: Uint8Array[]): boolean {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, stored)
  const before = Y.encodeStateAsUpdate(doc)
  let changed = false
  doc.on('update', () => { changed = true })
  for (const u of updates) Y.applyUpdate(doc, u)
  const after = Y.encodeStateAsUpdate(doc)
  const pending = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
  doc.destroy()
  return !changed && !pending && before.length === after.length
}

