// Helpers for the security-profile tests (tests/hostile.test.mjs, tests/tls.test.mjs):
// station registries and config files, raw HTTP upgrades over TCP or TLS
// from a chosen loopback source address, `openssl s_client` runs, and a
// charging station (ocpp-rpc, strict mode) that can use HTTP Basic and TLS
// client certificates.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import rpc from 'ocpp-rpc';

import { GATEWAY_BIN } from './gateway.mjs';
import { OPENSSL } from './pki.mjs';

const { RPCClient } = rpc;

/** `ocpp-gateway hash-password` for `password` (1000 iterations: fast in tests). */
export function hashPassword(password, iterations = 1000) {
  return execFileSync(GATEWAY_BIN, ['hash-password', '--iterations', String(iterations)], { input: password, timeout: 10_000 })
    .toString('utf8').trim();
}

/**
 * PBKDF2 iterations whose check takes about `targetMs` of this machine's CPU now, with the
 * gateway binary under test (sanitizers included), within [min, max]. Measured at nice 10,
 * as the gateway's password threads run. For tests whose point needs a check of a known
 * length: a fixed count is too quick on a fast day and too slow on a busy one.
 */
export function pbkdf2IterationsFor(targetMs, { min = 1000, max = 10_000_000 } = {}) {
  const timed = (iterations) => {
    const t0 = process.hrtime.bigint();
    execFileSync('nice', ['-n', '10', GATEWAY_BIN, 'hash-password', '--iterations', String(iterations)],
      { input: 'calibration', timeout: 30_000 });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const startup = timed(1000);  // the hashing process's own start
  const perMillion = Math.max(1, timed(1_000_000) - startup);
  return Math.min(max, Math.max(min, Math.round((targetMs / perMillion) * 1e6)));
}

/** Writes a station registry YAML: entries [{id, hash?, enabled?, pingIntervalS?, pongTimeoutMs?}]. */
export function writeRegistry(file, entries) {
  const lines = ['stations:'];
  for (const e of entries) {
    lines.push(`  - id: "${e.id}"`);
    if (e.hash) lines.push(`    password_hash: "${e.hash}"`);
    if (e.enabled === false) lines.push('    enabled: false');
    if (e.pingIntervalS !== undefined) lines.push(`    ping_interval_s: ${e.pingIntervalS}`);
    if (e.pongTimeoutMs !== undefined) lines.push(`    pong_timeout_ms: ${e.pongTimeoutMs}`);
    if (e.heartbeatIntervalS !== undefined) lines.push(`    heartbeat_interval_s: ${e.heartbeatIntervalS}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** `Basic base64(user:password)`. */
export function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * Distinct loopback source addresses (127.0.0.2 .. 127.0.0.254 cycling), so
 * that each refusal is counted against its own address by the gateway's
 * per-address throttle and the `address` of its security event is known.
 */
export class AddressPool {
  constructor(start = 10) {
    this.next = start;
  }

  take() {
    const a = `127.0.0.${this.next}`;
    this.next = this.next >= 254 ? 2 : this.next + 1;
    return a;
  }
}

function parseHead(text) {
  const [statusLine, ...lines] = text.split('\r\n');
  const m = statusLine.match(/^HTTP\/1\.[01] (\d{3})/);
  const headers = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, statusLine, headers };
}

/**
 * One WebSocket upgrade request written verbatim (`path` is not normalised),
 * over TCP or, with `tls` (tls.connect options), over TLS. Resolves one of
 *   {status, headers, body, socket?}   an HTTP answer (socket kept open for 101 when keepOpen)
 *   {tlsError: code, message}          the TLS handshake (or the first read) failed
 *   {closed: true, bytes}              the peer closed without an HTTP answer
 *   {timedOut: true}                   nothing within timeoutMs
 */
export function rawUpgrade({ host = '127.0.0.1', port, path, protocols = ['ocpp1.6'], headers = {}, rawHeaderLines = [],
  tls = null, localAddress, timeoutMs = 10_000, keepOpen = false, prefix = '' }) {
  return new Promise((resolve) => {
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: ${host}:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
    ];
    if (protocols != null) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(', ')}`);
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    lines.push(...rawHeaderLines);
    // `prefix`: bytes before the request (a PROXY protocol header).
    const request = prefix + lines.join('\r\n') + '\r\n\r\n';
    let buf = Buffer.alloc(0);
    let settled = false;
    let socket;
    const finish = (v) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!(keepOpen && v.status === 101)) socket.destroy();
      else v.socket = socket;
      resolve(v);
    };
    const timer = setTimeout(() => finish({ timedOut: true }), timeoutMs);
    if (tls) {
      socket = tlsConnect({ host, port, localAddress, servername: tls.servername, ...tls }, () => socket.write(request));
    } else {
      socket = netConnect({ host, port, localAddress }, () => socket.write(request));
    }
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = parseHead(buf.subarray(0, end).toString('latin1'));
        finish({ ...head, body: buf.subarray(end + 4).toString('utf8'), bytes: buf });
      }
    });
    socket.on('error', (err) => {
      if (tls && (err.code?.startsWith('ERR_SSL') || /alert|ssl|tls/i.test(err.message))) finish({ tlsError: err.code ?? 'ERR_SSL', message: err.message });
      else finish({ closed: true, error: err.code ?? err.message, bytes: buf });
    });
    socket.on('close', () => finish({ closed: true, bytes: buf }));
  });
}

/**
 * Runs `openssl s_client` against host:port with `args`, feeding `input` on
 * stdin (then EOF, so it quits). Resolves {code, stdout, stderr, out} (out:
 * both together); bounded by timeoutMs (then killed: {timedOut: true}).
 */
export function sClient(port, args = [], { input = '', timeoutMs = 15_000, host = '127.0.0.1' } = {}) {
  return new Promise((resolve) => {
    const child = execFile(OPENSSL, ['s_client', '-connect', `${host}:${port}`, '-servername', 'localhost', ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? null) : 0, timedOut: !!err?.killed, stdout, stderr, out: `${stdout}\n${stderr}` });
      });
    child.stdin.end(input);
  });
}

/**
 * Starts `openssl s_client` and keeps it running (stdin open); for an
 * established TLS session that must survive something. {child, output(),
 * write(text), waitFor(regex, ms), stop()}.
 */
export function sClientSession(port, args = [], host = '127.0.0.1') {
  const child = spawn(OPENSSL, ['s_client', '-connect', `${host}:${port}`, '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const waiters = new Set();
  const onData = (d) => { text += d.toString('utf8'); for (const w of waiters) w(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((res) => child.once('exit', (code, signal) => { for (const w of waiters) w(); res({ code, signal }); }));
  let exitInfo = null;
  exited.then((i) => { exitInfo = i; });
  return {
    child,
    exited,
    get running() { return exitInfo === null; },
    output: () => text,
    write: (s) => child.stdin.write(s),
    waitFor(re, timeoutMs = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text.slice(from).match(re);
          if (m) { done(); resolve(m); return; }
          if (exitInfo) { done(); reject(new Error(`s_client exited (${JSON.stringify(exitInfo)}) before ${re}; output:\n${text}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`s_client: ${re} not seen within ${timeoutMs} ms; output:\n${text}`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (!exitInfo) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/**
 * A station over ocpp-rpc (strict mode) with optional HTTP Basic password and
 * TLS options (ca / cert / key / localAddress via wsOpts), that logs each
 * call with its wire message id and the CALLRESULT payload as received (same
 * log format as lib/station.mjs, so lib/expect.mjs can check the records).
 */
export class SecureStation {
  constructor({ endpoint, identity, protocol, password = null, wsOpts = {}, callTimeoutMs = 10_000 }) {
    this.identity = identity;
    this.protocol = protocol;
    this.log = [];
    this.strictFailures = [];
    this.unexpected = [];
    this._byId = new Map();
    this.client = new RPCClient({
      endpoint, identity, protocols: [protocol], strictMode: true, reconnect: false, callTimeoutMs,
      pingIntervalMs: 0, respondWithDetailedErrors: true, password, wsOpts: { perMessageDeflate: false, ...wsOpts },
    });
    this.client.on('strictValidationFailure', (e) => this.strictFailures.push(e));
    this.client.on('message', ({ message, outbound }) => this._onWire(message, outbound));
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      this.client.on('close', (info) => { this.closeInfo = info; resolve(info); });
    });
  }

  _onWire(message, outbound) {
    let frame;
    try { frame = JSON.parse(message); } catch { frame = null; }
    if (!Array.isArray(frame)) { if (!outbound) this.unexpected.push(message); return; }
    if (outbound) {
      if (frame[0] === 2) {
        const entry = { action: frame[2], messageId: frame[1], payload: frame[3], reply: undefined, error: undefined, sentAt: Date.now(), repliedAt: null };
        this._byId.set(frame[1], entry);
        this.log.push(entry);
      }
      return;
    }
    const entry = (frame[0] === 3 || frame[0] === 4) ? this._byId.get(frame[1]) : undefined;
    if (!entry || entry.repliedAt !== null) { this.unexpected.push(message); return; }
    entry.repliedAt = Date.now();
    if (frame[0] === 3) entry.reply = frame[2];
    else entry.error = { code: frame[2], description: frame[3], details: frame[4] };
  }

  async connect() {
    await this.client.connect();
    if (this.client.protocol !== this.protocol) throw new Error(`negotiated ${this.client.protocol}, expected ${this.protocol}`);
    return this;
  }

  async call(action, payload) {
    const before = this.log.length;
    const result = await this.client.call(action, payload);
    const entry = this.log.slice(before).find((e) => e.action === action && e.repliedAt !== null && e.result === undefined);
    if (!entry) throw new Error(`no wire record of the ${action} call`);
    entry.result = result;
    return entry;
  }

  async close(code = 1000, reason = 'test done') {
    return this.client.close({ code, reason, awaitPending: true });
  }
}

const PACE_MS = 150;          // pause between two calls: load shaping only
const MAX_CALLS = 3_000;
const MAX_DURATION_MS = 8 * 60_000;

function meter16(txId, i) {
  return { connectorId: 1, transactionId: txId, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(1000 + i * 10), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] };
}

/**
 * A station that keeps charging in the background while hostile clients
 * attack the same gateway: BootNotification once, then sessions of
 * 1.6 StartTransaction / MeterValues ×2 / StopTransaction (or 2.0.1
 * TransactionEvent Started / Updated ×2 / Ended) with a Heartbeat between
 * sessions. One call at a time; every call must be answered.
 */
export class ChargingStation {
  constructor(opts) {
    this.station = new SecureStation({ ...opts, callTimeoutMs: 10_000 });
    this.identity = opts.identity;
    this.protocol = opts.protocol;
    this.failures = [];
    this.answered = 0;
    this.sessions = 0;
    this._stop = false;
    this._waiters = new Set();
    this._pace = null;
    this.loop = null;
  }

  _steps() {
    const steps = [];
    const v16 = this.protocol === 'ocpp1.6';
    const state = {};
    steps.push(() => ['Heartbeat', {}]);
    if (v16) {
      steps.push(() => ['StartTransaction', { connectorId: 1, idTag: 'HOSTILE1', meterStart: 1000, timestamp: new Date().toISOString() }]);
      for (let k = 1; k <= 2; k++) steps.push(() => ['MeterValues', meter16(state.txId, k)]);
      steps.push(() => ['StopTransaction', { transactionId: state.txId, meterStop: 1030, timestamp: new Date().toISOString(), idTag: 'HOSTILE1', reason: 'Local' }]);
    } else {
      const tx = () => ({ transactionId: state.txId });
      const ev = (eventType, triggerReason, seqNo, extra = {}) => ({
        eventType, timestamp: new Date().toISOString(), triggerReason, seqNo, transactionInfo: tx(), ...extra,
      });
      steps.push(() => { state.txId = `TX-${randomBytes(6).toString('hex')}`; return ['TransactionEvent', ev('Started', 'Authorized', 0, { idToken: { idToken: 'HOSTILE1', type: 'ISO14443' }, evse: { id: 1, connectorId: 1 } })]; });
      for (let k = 1; k <= 2; k++) {
        steps.push(() => ['TransactionEvent', ev('Updated', 'MeterValuePeriodic', k, { meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: 1000 + k * 10, measurand: 'Energy.Active.Import.Register' }] }] })]);
      }
      steps.push(() => ['TransactionEvent', ev('Ended', 'StopAuthorized', 3, { transactionInfo: { ...tx(), stoppedReason: 'Local' } })]);
    }
    return { steps, state };
  }

  async start() {
    await this.station.connect();
    const boot = this.protocol === 'ocpp1.6'
      ? { chargePointVendor: 'Interop', chargePointModel: 'Hostile-Guard' }
      : { reason: 'PowerUp', chargingStation: { vendorName: 'Interop', model: 'Hostile-Guard' } };
    await this.station.call('BootNotification', boot);
    this.answered++;
    const startedAt = Date.now();
    const { steps, state } = this._steps();
    this.loop = (async () => {
      let i = 0;
      while (!this._stop && i < MAX_CALLS && Date.now() - startedAt < MAX_DURATION_MS) {
        const step = i % steps.length;
        // Stop only between charging sessions (after StopTransaction / Ended).
        if (this._stopping && step === 0) break;
        const [action, payload] = steps[step]();
        try {
          const entry = await this.station.call(action, payload);
          if (action === 'StartTransaction') state.txId = entry.reply.transactionId;
          if (step === steps.length - 1) this.sessions++;
          this.answered++;
        } catch (err) {
          this.failures.push(`${action} #${i}: ${err.rpcErrorCode ?? err.name}: ${err.message}`);
          if (this.station.closeInfo) this.failures.push(`connection closed: ${JSON.stringify(this.station.closeInfo)}`);
          break;
        }
        i++;
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

  /** Resolves once `n` more calls were answered; rejects on failure or after timeoutMs. */
  async progress(n = 1, timeoutMs = 10_000) {
    const target = this.answered + n;
    const deadline = Date.now() + timeoutMs;
    while (this.answered < target) {
      if (this.failures.length) throw new Error(`charging station ${this.identity} failed: ${this.failures.join('; ')}`);
      if (this.station.closeInfo) throw new Error(`charging station ${this.identity}: connection closed ${JSON.stringify(this.station.closeInfo)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`charging station ${this.identity}: no answer within ${timeoutMs} ms (answered ${this.answered})`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        const w = () => { clearTimeout(t); this._waiters.delete(w); resolve(); };
        this._waiters.add(w);
      });
    }
  }

  /** Finishes the charging session in progress, then closes the connection. */
  async stop() {
    this._stopping = true;
    this._pace?.();
    await this.loop;
    if (!this.station.closeInfo) await this.station.close(1000, 'done').catch((e) => this.failures.push(`close: ${e.message}`));
  }

  get calls() {
    return this.station.log;
  }
}

/**
 * Connects a strict 1.6 station to `ws://127.0.0.1:{port}{path}/{identity}` (HTTP Basic
 * with `password` when given) and sends one Heartbeat; resolves 'ok' or the handshake's (or
 * the call's) error message. The connection is closed either way.
 */
export async function tryConnect(port, identity, password, path = '/ocpp') {
  const client = new RPCClient({
    endpoint: `ws://127.0.0.1:${port}${path}`, identity, password,
    protocols: ['ocpp1.6'], strictMode: true, reconnect: false,
  });
  try {
    await client.connect();
    await client.call('Heartbeat', {});
    return 'ok';
  } catch (err) {
    return err.message;
  } finally {
    await client.close({ force: true }).catch(() => {});
  }
}

/**
 * Retries `attempt` (e.g. a tryConnect waiting for a registry record to be applied) until it
 * resolves `want` or `timeoutMs` passes; resolves the last answer.
 */
export async function answerWithin(attempt, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await attempt();
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 200));  // poll interval between connection attempts
  }
  return last;
}
