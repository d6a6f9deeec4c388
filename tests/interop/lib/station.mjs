// A well-behaved charging station: ocpp-rpc's RPCClient in strict mode, so
// every request it sends and every response it receives is validated
// against the official OCPP JSON schemas of the negotiated version.
//
// Each call is logged with its message id, payload and the CALLRESULT
// payload exactly as it arrived on the wire, so tests can compare them with
// what the gateway published.

import rpc from 'ocpp-rpc';

const { RPCClient } = rpc;

export class Station {
  /**
   * @param {object} o
   * @param {string} o.endpoint  ws://host:port/ocpp (the identity is appended)
   * @param {string} o.identity  station id
   * @param {string} o.protocol  'ocpp1.6' | 'ocpp2.0.1'
   */
  constructor({ endpoint, identity, protocol, callTimeoutMs = 15_000, acceptsCalls = false }) {
    // Without acceptsCalls a CALL from the gateway is unexpected, like any other stray message.
    this.acceptsCalls = acceptsCalls;
    this.identity = identity;
    this.protocol = protocol;
    this.log = [];          // [{action, messageId, payload, reply, sentAt, repliedAt}]
    this.strictFailures = [];
    this.unexpected = [];   // inbound messages that answer none of our calls
    this.inboundCalls = []; // CALLs from the gateway (operator commands): {action, messageId, payload, at}
    this._byId = new Map();
    this.client = new RPCClient({
      endpoint,
      identity,
      protocols: [protocol],
      strictMode: true,
      reconnect: false,
      callTimeoutMs,
      pingIntervalMs: 0,
      respondWithDetailedErrors: true,
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
    if (!Array.isArray(frame)) {
      if (!outbound) this.unexpected.push(message);
      return;
    }
    if (outbound) {
      if (frame[0] === 2) {
        const entry = { action: frame[2], messageId: frame[1], payload: frame[3], reply: undefined, error: undefined, sentAt: Date.now(), repliedAt: null };
        this._byId.set(frame[1], entry);
        this.log.push(entry);
      }
      return;
    }
    if (frame[0] === 2 && this.acceptsCalls) {
      this.inboundCalls.push({ action: frame[2], messageId: frame[1], payload: frame[3], at: Date.now() });
      return;
    }
    const entry = (frame[0] === 3 || frame[0] === 4) ? this._byId.get(frame[1]) : undefined;
    if (!entry || entry.repliedAt !== null) {
      this.unexpected.push(message);
      return;
    }
    entry.repliedAt = Date.now();
    if (frame[0] === 3) entry.reply = frame[2];
    else entry.error = { code: frame[2], description: frame[3], details: frame[4] };
  }

  async connect() {
    await this.client.connect();
    if (this.client.protocol !== this.protocol) {
      throw new Error(`negotiated subprotocol ${JSON.stringify(this.client.protocol)}, expected ${this.protocol}`);
    }
    return this;
  }

  /**
   * Sends a CALL and resolves with {messageId, payload, reply, result}, where
   * `reply` is the CALLRESULT payload as received and `result` what
   * ocpp-rpc returned after strict validation.
   */
  async call(action, payload) {
    const before = this.log.length;
    const result = await this.client.call(action, payload);
    const entry = this.log.slice(before).find((e) => e.action === action && e.repliedAt !== null && e.result === undefined);
    if (!entry) throw new Error(`no wire record of the ${action} call`);
    entry.result = result;
    return entry;
  }

  /** Normal closure; resolves {code, reason}. */
  async close(code = 1000, reason = 'test done') {
    return this.client.close({ code, reason, awaitPending: true });
  }
}
