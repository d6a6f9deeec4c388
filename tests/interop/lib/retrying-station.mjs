// A station that keeps sending MeterValues, one CALL at a time, and retries
// a message whose CALL failed (CALLERROR, or no answer within its call
// timeout) with the SAME payload after a short backoff, until a CALLRESULT
// answers it. This is what the gateway's contract expects from stations: a
// CALLERROR InternalError means "not stored, send it again".
//
// Every message carries a unique marker (its meter value), so its records can
// be found on Kafka. Each attempt keeps the Station log entry of its CALL
// (wire message id, payload, and the CALLRESULT / CALLERROR as received, even
// when it arrives after the call timed out).
//
// With `failover`, a closed connection is not the end: the station connects
// again (to the next of its `endpoints`, as stations do behind a list of
// central-system addresses or a load balancer) and sends the unanswered
// message again.

import { Station } from './station.mjs';

const DEFAULT_PACE_MS = 25;        // pause between two acknowledged messages: load shaping only
const DEFAULT_BACKOFF_MS = 250;    // pause before a retry
const MAX_MESSAGES = 20_000;       // bound on the loop, far above what a test sends
const RECONNECT_TIMEOUT_MS = 60_000;
const RECONNECT_BACKOFF_MS = 250;

/** The marker of message `seq` of station number `index`: unique across stations. */
export function meterMarker(index, seq) {
  return (index + 1) * 1_000_000 + seq;
}

/** A schema-valid MeterValues request whose single sampled value is `marker`. */
export function meterValuesPayload(protocol, marker, timestamp = new Date().toISOString()) {
  if (protocol === 'ocpp1.6') {
    return {
      connectorId: 1,
      meterValue: [{
        timestamp,
        sampledValue: [{ value: String(marker), context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }],
      }],
    };
  }
  return {
    evseId: 1,
    meterValue: [{
      timestamp,
      sampledValue: [{ value: marker, context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }],
    }],
  };
}

/** The marker carried by a MeterValues payload (either version), or undefined. */
export function markerOf(payload) {
  const v = payload?.meterValue?.[0]?.sampledValue?.[0]?.value;
  if (v === undefined) return undefined;
  return Number(v);
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) { resolve(); return; }
    const onAbort = () => { clearTimeout(t); resolve(); };
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Outcome of an attempt from what the CALL's promise rejected with. */
function classify(err) {
  if (err?.name === 'TimeoutError' || err?.constructor?.name === 'TimeoutError') return { outcome: 'timeout', code: 'timeout' };
  if (typeof err?.rpcErrorCode === 'string') return { outcome: 'error', code: err.rpcErrorCode };
  return { outcome: 'failed', code: err?.name ?? 'Error', message: err?.message };
}

export class RetryingMeterStation {
  /**
   * @param {object} o
   * @param {string} o.endpoint   ws://host:port/ocpp
   * @param {string} o.identity
   * @param {string} o.protocol   'ocpp1.6' | 'ocpp2.0.1'
   * @param {number} o.index      distinct per station; markers are derived from it
   * @param {string[]} [o.endpoints]  with `failover`: the endpoints tried in turn after a close
   */
  constructor({ endpoint, endpoints, identity, protocol, index, callTimeoutMs = 15_000, paceMs = DEFAULT_PACE_MS,
    backoffMs = DEFAULT_BACKOFF_MS, failover = false, handlers = {} }) {
    this.handlers = handlers;
    this.endpoints = endpoints ?? [endpoint];
    this.callTimeoutMs = callTimeoutMs;
    this.failover = failover;
    this._endpointIndex = 0;
    this.station = this._withHandlers(new Station({ endpoint: this.endpoints[0], identity, protocol, callTimeoutMs, acceptsCalls: Object.keys(handlers).length > 0 }));
    /** Every connection, in order (the current one last). */
    this.connections = [this.station];
    /** [{closedAt, closeInfo, connectedAt, endpoint}] */
    this.reconnects = [];
    this.identity = identity;
    this.protocol = protocol;
    this.index = index;
    this.paceMs = paceMs;
    this.backoffMs = backoffMs;
    /** [{seq, marker, payload, attempts: [{entry, outcome, code, settledAt}], ackedAt}] */
    this.messages = [];
    this.failures = [];        // the loop ended abnormally (connection closed, call not sent, ...)
    this._abort = new AbortController();
    this._finish = null;       // {since, acks}: stop after `acks` messages acknowledged after `since`
    this.loop = null;
  }

  async connect() {
    await this.station.connect();
    return this;
  }

  /** Starts the sending loop; `this.loop` settles when it ends. */
  start() {
    this.loop = this._run();
    return this;
  }

  async _run() {
    const signal = this._abort.signal;
    for (let seq = 0; seq < MAX_MESSAGES && !signal.aborted; seq++) {
      const marker = meterMarker(this.index, seq);
      const msg = { seq, marker, payload: meterValuesPayload(this.protocol, marker), attempts: [], ackedAt: null };
      this.messages.push(msg);
      while (msg.ackedAt === null) {
        if (signal.aborted) return;
        const before = this.station.log.length;
        let outcome = { outcome: 'result', code: null };
        try {
          await this.station.client.call('MeterValues', msg.payload);
        } catch (err) {
          outcome = classify(err);
        }
        const settledAt = Date.now();
        const entry = this.station.log.length > before ? this.station.log[this.station.log.length - 1] : null;
        if (!entry) {
          if (this.failover && this.station.closeInfo) {
            if (!(await this._reconnect(signal))) return;
            continue;
          }
          this.failures.push(`marker ${marker}: the CALL was not sent (${outcome.code}: ${outcome.message ?? ''})`);
          return;
        }
        msg.attempts.push({ entry, ...outcome, settledAt });
        if (outcome.outcome === 'result') {
          msg.ackedAt = settledAt;
          break;
        }
        if (this.failover && (outcome.outcome === 'failed' || this.station.closeInfo)) {
          // A call that failed on an open connection: give that connection up too.
          if (!this.station.closeInfo) await this.station.client.close({ force: true }).catch(() => {});
          if (!(await this._reconnect(signal))) return;
          continue;
        }
        if (outcome.outcome === 'failed' || this.station.closeInfo) {
          this.failures.push(`marker ${marker}: ${outcome.code} ${outcome.message ?? ''}; connection ${JSON.stringify(this.station.closeInfo)}`);
          return;
        }
        await pause(this.backoffMs, signal);
      }
      if (this._finish && this.acknowledgedSince(this._finish.since) >= this._finish.acks) return;
      await pause(this.paceMs, signal);
    }
  }

  /** Registers the station's handlers of gateway CALLs (operator commands) on a connection. */
  _withHandlers(station) {
    for (const [action, fn] of Object.entries(this.handlers)) station.client.handle(action, fn);
    return station;
  }

  /** Connects to the next endpoint (in turn) until one accepts; false when aborted or out of time. */
  async _reconnect(signal) {
    const closedAt = Date.now();
    const closeInfo = this.station.closeInfo;
    const deadline = closedAt + RECONNECT_TIMEOUT_MS;
    let lastError = null;
    while (!signal.aborted && Date.now() < deadline) {
      this._endpointIndex = (this._endpointIndex + 1) % this.endpoints.length;
      const endpoint = this.endpoints[this._endpointIndex];
      const station = this._withHandlers(new Station({ endpoint, identity: this.identity, protocol: this.protocol, callTimeoutMs: this.callTimeoutMs, acceptsCalls: Object.keys(this.handlers).length > 0 }));
      try {
        await station.connect();
        this.station = station;
        this.connections.push(station);
        this.reconnects.push({ closedAt, closeInfo, connectedAt: Date.now(), endpoint });
        return true;
      } catch (err) {
        lastError = err;
        await station.client.close({ force: true }).catch(() => {});
        await pause(RECONNECT_BACKOFF_MS, signal);
      }
    }
    if (!signal.aborted) this.failures.push(`no reconnection within ${RECONNECT_TIMEOUT_MS} ms: ${lastError?.message}`);
    return false;
  }

  /** Messages acknowledged (CALLRESULT) at or after `t`. */
  acknowledgedSince(t) {
    let n = 0;
    for (const m of this.messages) if (m.ackedAt !== null && m.ackedAt >= t) n++;
    return n;
  }

  /**
   * Lets the loop end once `acks` messages have been acknowledged at or after
   * `since` (the message in progress is always completed first).
   */
  finishAfter(acks, since = Date.now()) {
    this._finish = { acks, since };
  }

  /** Ends the loop at once (after the CALL in flight settles); the message in progress may stay unacknowledged. */
  abort() {
    this._abort.abort();
  }

  /** Every attempt of every message, flattened: [{msg, attempt}]. */
  attempts() {
    const out = [];
    for (const msg of this.messages) for (const attempt of msg.attempts) out.push({ msg, attempt });
    return out;
  }
}

/**
 * Waits up to `timeoutMs` for every station's loop to end; if they have not, aborts them all
 * and gives the CALLs in flight up to `settleMs` to settle. Resolves true when every loop
 * ended by itself.
 */
export async function awaitLoops(stations, timeoutMs, settleMs) {
  let timer;
  const finished = await Promise.race([
    Promise.all(stations.map((s) => s.loop)).then(() => true),
    new Promise((r) => { timer = setTimeout(() => r(false), timeoutMs); }),
  ]);
  clearTimeout(timer);
  if (!finished) {
    for (const s of stations) s.abort();
    await Promise.race([Promise.allSettled(stations.map((s) => s.loop)),
      new Promise((r) => { timer = setTimeout(r, settleMs); })]);
    clearTimeout(timer);
  }
  return finished;
}
