// The progress line: rewritten in place on a terminal, a plain line every few seconds
// otherwise (CI logs).

/// What the progress line shows.
export interface ProgressState {
  phase: string
  elapsedMs: number
  totalMs: number
  edits: number
  faults: number
  online: number
  clients: number
}

/// Format one progress line.
export function progressLine(s: ProgressState): string {
  const t = `${(s.elapsedMs / 1000).toFixed(1)}s/${(s.totalMs / 1000).toFixed(0)}s`
  return `converge ${s.phase} ${t}  edits ${s.edits}  faults ${s.faults}  connected ${s.online}/${s.clients}`
}

/// A writer of progress lines to `out` (stderr); `done` ends the line.
export function createProgress(out: NodeJS.WritableStream & { isTTY?: boolean }): { show(s: ProgressState): void; done(): void } {
  const tty = out.isTTY === true
  let lastPlain = 0
  let shown = false
  return {
    show(s) {
      if (tty) {
        out.write(`\r\x1b[K${progressLine(s)}`)
        shown = true
      } else if (Date.now() - lastPlain >= 5000) {
        lastPlain = Date.now()
        out.write(`${progressLine(s)}\n`)
      }
    },
    done() {
      if (tty && shown) out.write('\r\x1b[K')
    },
  }
}
