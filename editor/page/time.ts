// Times and sizes as the pages show them: "5 min ago" with the local date and time on hover.

/// `at` (epoch ms) relative to `now`, in short English words.
export function relativeTime(at: number, now = Date.now()): string {
  const seconds = Math.round((now - at) / 1000)
  if (seconds < -60) return 'in the future'
  if (seconds < 45) return 'just now'
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 24) return hours === 1 ? '1 hour ago' : `${hours} hours ago`
  const days = Math.round(hours / 24)
  if (days === 1) return 'yesterday'
  if (days < 30) return `${days} days ago`
  return new Date(at).toLocaleDateString()
}

/// A `<time>` element showing the relative time, the local date and time as its tooltip.
export function timeElement(at: number, now = Date.now()): HTMLTimeElement {
  const el = document.createElement('time')
  const date = new Date(at)
  el.dateTime = date.toISOString()
  el.title = date.toLocaleString()
  el.dataset.at = String(at)
  el.textContent = relativeTime(at, now)
  return el
}

/// Refresh the words of every `<time data-at>` under `root`.
export function refreshTimes(root: ParentNode, now = Date.now()): void {
  for (const el of root.querySelectorAll<HTMLTimeElement>('time[data-at]')) {
    el.textContent = relativeTime(Number(el.dataset.at), now)
  }
}

/// A byte count in B, KB or MB.
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(bytes < 10_000 ? 1 : 0)} KB`
  return `${(bytes / 1_000_000).toFixed(1)} MB`
}
