// A well-behaved station that keeps sending Heartbeat and MeterValues in the
// background (one call at a time, paced) while other tests misbehave on the
// same gateway. Every call must be answered; failures are collected and
// reported at the end. The loop is bounded in calls and time.

import { Station } from './station.mjs';

const PACE_MS = 150;            // pause between two calls: load shaping only
const MAX_CALLS = 2_000;
const MAX_DURATION_MS = 5 * 60_000;

function meterValues(version, i) {
  const ts = new Date().toISOString();
  if (version === 'ocpp1.6') {
    return {
      connectorId: 1,
      meterValue: [{ timestamp: ts, sampledValue: [{ value: String(1000 + i), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
    };
  }
  return {
    evseId: 1,
    meterValue: [{ timestamp: ts, sampledValue: [{ value: 1000 + i, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }],
  };
}

export class WellBehavedStation {
  constructor({ endpoint, identity, protocol }) {
    this.station = new Station({ endpoint, identity, protocol, callTimeoutMs: 10_000 });
    this.identity = identity;
    this.protocol = protocol;
    this.failures = [];
    this.answered = 0;
    this._stop = false;
    this._waiters = new Set();
    this._pace = null;
    this.loop = null;
  }

  async start() {
    await this.station.connect();
    const startedAt = Date.now();
    this.loop = (async () => {
      for (let i = 0; !this._stop && i < MAX_CALLS && Date.now() - startedAt < MAX_DURATION_MS; i++) {
        const action = i % 2 === 0 ? 'Heartbeat' : 'MeterValues';
        const payload = action === 'Heartbeat' ? {} : meterValues(this.protocol, i);
        try {
          await this.station.call(action, payload);
          this.answered++;
        } catch (err) {
          this.failures.push(`${action} #${i}: ${err.rpcErrorCode ?? err.name}: ${err.message}`);
          if (this.station.closeInfo) {
            this.failures.push(`connection closed: ${JSON.stringify(this.station.closeInfo)}`);
            break;
          }
        }
        for (const w of this._waiters) w();
        if (this._stop) break;
        await new Promise((resolve) => {
          const t = setTimeout(resolve, PACE_MS);
          this._pace = () => { clearTimeout(t); resolve(); };
        });
        this._pace = null;
      }
      for (const w of this._waiters) w();
    })();
    return this;
  }

  /**
   * Resolves once `n` more calls have been answered, proving the station is
   * still served; rejects after `timeoutMs` or when the loop failed / ended.
   */
  async progress(n = 1, timeoutMs = 10_000) {
    const target = this.answered + n;
    const deadline = Date.now() + timeoutMs;
    while (this.answered < target) {
      if (this.failures.length) throw new Error(`well-behaved station ${this.identity} failed: ${this.failures.join('; ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`well-behaved station ${this.identity}: no answer within ${timeoutMs} ms (answered ${this.answered})`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        const w = () => { clearTimeout(t); this._waiters.delete(w); resolve(); };
        this._waiters.add(w);
      });
      if (this._stop && this.answered < target) throw new Error('well-behaved station stopped');
    }
  }

  /** Stops the loop after the call in flight and closes the connection. */
  async stop() {
    this._stop = true;
    this._pace?.();
    for (const w of this._waiters) w();
    await this.loop;
    if (!this.station.closeInfo) await this.station.close(1000, 'done').catch((e) => this.failures.push(`close: ${e.message}`));
  }

  /** The calls made, with wire message ids, payloads and replies. */
  get calls() {
    return this.station.log;
  }
}
