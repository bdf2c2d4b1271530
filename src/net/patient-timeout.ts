/**
 * Timers for request bounds that a suspended process does not trip on resume (a laptop lid
 * closed, SIGSTOP): when a bound is reached, it looks again after a second of its own running
 * time, by when what arrived meanwhile — waiting in the socket — has been read. A refresh answer
 * waiting there may hold the rotated refresh token: timing out on it would lose the session.
 */
const RESUME_GRACE_MS = 1_000

/** Calls `onTimeout` once `ms` and then the grace have passed; returns the function that cancels it. */
export function patientTimeout(ms: number, onTimeout: () => void): () => void {
  let timer = setTimeout(() => {
    timer = setTimeout(onTimeout, RESUME_GRACE_MS)
  }, ms)
  return () => clearTimeout(timer)
}
