// A bare WebSocket station for frames no OCPP library would send: every
// inbound message is queued and taken in order with a bounded wait.

import WebSocket from 'ws';
import { randomUUID, randomBytes } from 'node:crypto';

const DEFAULT_TIMEOUT_MS = 10_000;

export class RawStation {
  /**
   * Opens ws://.../ocpp/<id>. `protocols` is an array of offered
   * subprotocols, or null to send no Sec-WebSocket-Protocol header.
   */
  static async connect(url, protocols, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    // No permessage-deflate: the bytes on the wire are exactly the frame.
    const opts = { handshakeTimeout: timeoutMs, perMessageDeflate: false };
    const ws = protocols == null ? new WebSocket(url, opts) : new WebSocket(url, protocols, opts);
    const station = new RawStation(ws);
    await new Promise((resolve, reject) => {
      const onOpen = () => { cleanup(); resolve(); };
      const onError = (err) => { cleanup(); reject(err); };
      const onUnexpected = (req, res) => {
        cleanup();
        ws.terminate();
        reject(new Error(`handshake refused: HTTP ${res.statusCode}`));
      };
      const cleanup = () => {
        ws.off('open', onOpen);
        ws.off('error', onError);
        ws.off('unexpected-response', onUnexpected);
      };
      ws.on('open', onOpen);
      ws.on('error', onError);
      ws.on('unexpected-response', onUnexpected);
    });
    return station;
  }

  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.waiters = [];
    this.errors = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
        this._wake();
      });
    });
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data));
      this.inbox.push({ isBinary, text: buf.toString('utf8'), buffer: buf, at: Date.now() });
      this._wake();
    });
    // Errors after the handshake (e.g. EPIPE / ECONNRESET while the peer
    // closes) are kept for diagnostics; the close event reports the outcome.
    ws.on('error', (err) => { this.errors.push(err); });
  }

  get protocol() {
    return this.ws.protocol;
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  _wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Sends a text frame (string or raw bytes, sent unchanged as a text frame). */
  sendText(data) {
    return new Promise((resolve, reject) => {
      this.ws.send(data, { binary: false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Sends several text frames in one TCP write, so that the peer has all of
   * them in its receive buffer at once (no timing between them).
   */
  sendTextFramesTogether(texts) {
    const buf = Buffer.concat(texts.map((t) => maskedFrame(0x1, Buffer.from(t, 'utf8'))));
    return new Promise((resolve, reject) => {
      this.ws._socket.write(buf, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Sends a binary frame. */
  sendBinary(data) {
    return new Promise((resolve, reject) => {
      this.ws.send(data, { binary: true }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Sends a CALL and returns its message id. */
  async sendCall(action, payload, id = randomUUID()) {
    await this.sendText(JSON.stringify([2, id, action, payload]));
    return id;
  }

  /**
   * The next inbound message, parsed: {text, json, isBinary}. Rejects when
   * nothing arrives within `timeoutMs` or the connection closes first.
   */
  async next(timeoutMs = DEFAULT_TIMEOUT_MS, what = 'next message') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.inbox.length) {
        const m = this.inbox.shift();
        let json;
        try { json = JSON.parse(m.text); } catch { json = undefined; }
        return { ...m, json };
      }
      if (this.closeInfo) {
        throw new Error(`${what}: connection closed (code ${this.closeInfo.code}${this.closeInfo.reason ? `, "${this.closeInfo.reason}"` : ''}) before a message arrived`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: nothing received within ${timeoutMs} ms`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Sends a CALL and waits for the next message, which must answer it. */
  async call(action, payload, { id = randomUUID(), timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    await this.sendCall(action, payload, id);
    const reply = await this.next(timeoutMs, `reply to ${action} ${id}`);
    return { id, reply };
  }

  /** Waits for the close event; resolves {code, reason}. */
  async waitClose(timeoutMs = DEFAULT_TIMEOUT_MS) {
    let timer;
    try {
      return await Promise.race([
        this.closed,
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`connection not closed within ${timeoutMs} ms`)), timeoutMs); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes (normal closure) and waits for the close to complete. */
  async close(code = 1000, timeoutMs = 5_000) {
    if (!this.closeInfo) {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
      else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
      try {
        await this.waitClose(timeoutMs);
      } catch {
        this.ws.terminate();
        await this.closed;
      }
    }
    return this.closeInfo;
  }

  terminate() {
    this.ws.terminate();
  }
}

const BOOTS = {
  'ocpp1.6': { chargePointVendor: 'V', chargePointModel: 'M' },
  'ocpp2.0.1': { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } },
  'ocpp2.1': { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } },
};

/**
 * Connects a RawStation with `protocol` and boots it; throws unless the BootNotification is
 * answered with a CALLRESULT within `timeoutMs`.
 */
export async function bootedRawStation(url, protocol, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const station = await RawStation.connect(url, [protocol]);
  const { reply } = await station.call('BootNotification', BOOTS[protocol], { timeoutMs });
  if (reply.json?.[0] !== 3) {
    station.terminate();
    throw new Error(`${protocol} BootNotification answered ${reply.text}`);
  }
  return station;
}

/** One final, masked client frame (RFC 6455 section 5.2). */
export function maskedFrame(opcode, payload) {
  const len = payload.length;
  let header;
  if (len < 126) {
    header = Buffer.from([0x80 | opcode, 0x80 | len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, body]);
}

/**
 * Attempts a WebSocket handshake that is expected to be refused. Resolves
 * {status} with the HTTP status of the refusal, or {opened: true, protocol}
 * if the server accepted (the socket is then closed again).
 */
export function tryHandshake(url, protocols, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { handshakeTimeout: timeoutMs, perMessageDeflate: false };
    const ws = protocols == null ? new WebSocket(url, opts) : new WebSocket(url, protocols, opts);
    let settled = false;
    const done = (fn, v) => { if (!settled) { settled = true; fn(v); } };
    ws.on('unexpected-response', (req, res) => {
      const status = res.statusCode;
      res.resume();
      req.destroy();
      done(resolve, { status });
    });
    ws.on('open', () => {
      const protocol = ws.protocol;
      ws.close(1000);
      done(resolve, { opened: true, protocol });
    });
    ws.on('error', (err) => done(reject, err));
  });
}

/** [type, id, code, description, details] shape check; returns the parsed frame or throws. */
export function parseCallError(message) {
  const j = message.json;
  if (!Array.isArray(j) || j[0] !== 4) throw new Error(`expected a CALLERROR, got ${message.text.slice(0, 300)}`);
  if (j.length !== 5 || typeof j[1] !== 'string' || typeof j[2] !== 'string' || typeof j[3] !== 'string'
      || j[4] === null || typeof j[4] !== 'object' || Array.isArray(j[4])) {
    throw new Error(`malformed CALLERROR: ${message.text.slice(0, 300)}`);
  }
  return { id: j[1], code: j[2], description: j[3], details: j[4] };
}

/** [3, id, payload] shape check; returns {id, payload} or throws. */
export function parseCallResult(message) {
  const j = message.json;
  if (!Array.isArray(j) || j[0] !== 3 || j.length !== 3 || typeof j[1] !== 'string'
      || j[2] === null || typeof j[2] !== 'object' || Array.isArray(j[2])) {
    throw new Error(`expected a CALLRESULT, got ${message.text.slice(0, 300)}`);
  }
  return { id: j[1], payload: j[2] };
}
