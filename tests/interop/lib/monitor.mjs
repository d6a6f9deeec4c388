// Watching a running gateway from outside: resident memory from
// /proc/<pid>/status, /readyz, and values from /metrics.

import { readdirSync, readFileSync } from 'node:fs';
import { httpGet } from './gateway.mjs';

/** VmRSS of a process in KiB, or null when it cannot be read (process gone). */
export function readRssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** User plus system CPU seconds a process (or `pid/task/tid`, a thread) has used so far (/proc/<pid>/stat), or null. */
export function readCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses; utime and stime
    // are the 14th and 15th fields, in clock ticks (USER_HZ, 100 on Linux).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) of each thread of a process: {tid: seconds}; {} when gone. */
export function readThreadCpuSeconds(pid) {
  const out = {};
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const seconds = readCpuSeconds(`${pid}/task/${tid}`);
    if (seconds !== null) out[tid] = seconds;
  }
  return out;
}

/**
 * The value of one sample in Prometheus text: `name` with exactly the given
 * labels (label order as written by the exporter does not matter); the sum
 * over all label sets when `labels` is null. Returns null when absent.
 */
export function metricValue(text, name, labels = {}) {
  let sum = null;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = {};
    for (const part of (m[3] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = part.indexOf('=');
      got[part.slice(0, eq)] = part.slice(eq + 2, -1);
    }
    const value = Number(m[4]);
    if (labels === null) {
      sum = (sum ?? 0) + value;
      continue;
    }
    const want = Object.entries(labels);
    if (want.length === Object.keys(got).length && want.every(([k, v]) => got[k] === String(v))) return value;
  }
  return sum;
}

/**
 * Samples a gateway at a fixed interval: RSS (KiB) and the /readyz status
 * (a number, or the error code when the admin listener did not answer).
 * Samples are {t, rssKiB, ready}. The interval is the sampling rate of a
 * measurement, not a wait for an event.
 */
export class GatewayMonitor {
  constructor(gw, { intervalMs = 1_000, readyTimeoutMs = 1_000 } = {}) {
    this.gw = gw;
    this.intervalMs = intervalMs;
    this.readyTimeoutMs = readyTimeoutMs;
    this.samples = [];
    this._timer = null;
    this._busy = false;
    this._waiters = new Set();
  }

  start() {
    const tick = async () => {
      if (this._busy) return;          // a slow /readyz must not pile up requests
      this._busy = true;
      try {
        const t = Date.now();
        const rssKiB = readRssKiB(this.gw.pid);
        let ready;
        try {
          ready = (await httpGet(this.gw.adminUrl('/readyz'), this.readyTimeoutMs)).status;
        } catch (err) {
          ready = err.code || 'no answer';
        }
        this.samples.push({ t, rssKiB, ready });
        for (const w of this._waiters) w();
      } finally {
        this._busy = false;
      }
    };
    tick();
    this._timer = setInterval(tick, this.intervalMs);
    return this;
  }

  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }

  /** Samples taken in [from, to). */
  between(from, to = Infinity) {
    return this.samples.filter((s) => s.t >= from && s.t < to);
  }

  /**
   * Resolves with the first sample taken at or after `since` that satisfies
   * `predicate`; rejects after `timeoutMs`.
   */
  waitFor(predicate, { since = 0, timeoutMs = 30_000, what = 'monitor condition' } = {}) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.samples.find((s) => s.t >= since && predicate(s));
        if (hit) { done(); resolve(hit); }
      };
      const timer = setTimeout(() => {
        done();
        const last = this.samples.at(-1);
        reject(new Error(`${what}: not seen within ${timeoutMs} ms (last sample ${JSON.stringify(last)})`));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); this._waiters.delete(check); };
      this._waiters.add(check);
      check();
    });
  }
}

/** {n, min, max, mean, first, last} of RSS in MiB over the samples (null when none). */
export function rssSummary(samples) {
  const v = samples.map((s) => s.rssKiB).filter((x) => x != null).map((k) => k / 1024);
  if (!v.length) return null;
  const round = (x) => Math.round(x * 10) / 10;
  return {
    n: v.length,
    minMiB: round(Math.min(...v)),
    maxMiB: round(Math.max(...v)),
    meanMiB: round(v.reduce((a, b) => a + b, 0) / v.length),
    firstMiB: round(v[0]),
    lastMiB: round(v.at(-1)),
  };
}
