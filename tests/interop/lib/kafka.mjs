// Reading the gateway's topics back.
//
// The topics are shared by every run against the same broker, so readers
// always filter by record key (station id) and usually start at offsets
// snapshotted before the test produced anything.
//
// `readToEnd` reads every record from `from` (default: the earliest offset)
// up to the end offsets as they are when it is called, then stops.
// `waitFor` keeps consuming until a predicate over the records read so far
// holds. Both are bounded in time and use a throw-away consumer group with
// no committed offsets.
//
//   OCPP_TEST_KAFKA_BROKERS   bootstrap servers (default 127.0.0.1:29092)
//   OCPP_TEST_KAFKA_LOG       kafkajs log level: error | warn | info | debug (default: silent)

import { Kafka, logLevel } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { eventually } from './until.mjs';

export const KAFKA_BROKERS = process.env.OCPP_TEST_KAFKA_BROKERS || '127.0.0.1:29092';

export const TOPICS = Object.freeze({
  transactions: 'ocpp.transactions',
  meterValues: 'ocpp.meter-values',
  status: 'ocpp.status',
  heartbeats: 'ocpp.heartbeats',
  authorizations: 'ocpp.authorizations',
  security: 'ocpp.security',
  reports: 'ocpp.reports',
  dataTransfer: 'ocpp.data-transfer',
  der: 'ocpp.der',
  connections: 'ocpp.connections',
  deadLetter: 'ocpp.dead-letter',
});

const DEFAULT_TIMEOUT_MS = 20_000;

function kafkaLogLevel() {
  switch ((process.env.OCPP_TEST_KAFKA_LOG || '').toLowerCase()) {
    case 'error': return logLevel.ERROR;
    case 'warn': return logLevel.WARN;
    case 'info': return logLevel.INFO;
    case 'debug': return logLevel.DEBUG;
    default: return logLevel.NOTHING;
  }
}

/** Kafka headers (Buffer or Buffer[] values) as strings (or string[]). */
export function decodeHeaders(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (Array.isArray(v)) out[k] = v.map((x) => (x == null ? null : x.toString('utf8')));
    else out[k] = v == null ? null : v.toString('utf8');
  }
  return out;
}

function decodeMessage(topic, partition, m) {
  const text = m.value == null ? null : m.value.toString('utf8');
  let value;
  let valueError = null;
  if (text != null) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      valueError = err.message;
    }
  }
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key == null ? null : m.key.toString('utf8'),
    headers: decodeHeaders(m.headers),
    timestamp: Number(m.timestamp),
    text,
    value,
    valueError,
  };
}

function deadlineError(what, timeoutMs, detail) {
  return new Error(`${what}: not done within ${timeoutMs} ms${detail ? ` (${detail})` : ''}`);
}

export class TopicReader {
  constructor({ brokers = KAFKA_BROKERS, clientId = 'ocpp-interop-tests' } = {}) {
    this.brokers = brokers.split(',').map((s) => s.trim()).filter(Boolean);
    this.kafka = new Kafka({
      clientId,
      brokers: this.brokers,
      logLevel: kafkaLogLevel(),
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.admin = null;
    this.stats = { delivered: 0 };   // messages handed to us by the consumers (diagnostics)
  }

  async connect(timeoutMs = 15_000) {
    if (this.admin) return this;
    const admin = this.kafka.admin();
    let timer;
    try {
      await Promise.race([
        admin.connect(),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('timeout')), timeoutMs); }),
      ]);
    } catch (err) {
      await admin.disconnect().catch(() => {});
      throw new Error(`cannot reach Kafka at ${this.brokers.join(',')}: ${err.message} (start it with deploy/kafka/kafka.sh start, or set OCPP_TEST_KAFKA_BROKERS)`);
    } finally {
      clearTimeout(timer);
    }
    this.admin = admin;
    return this;
  }

  async close() {
    const admin = this.admin;
    this.admin = null;
    if (admin) await admin.disconnect().catch(() => {});
  }

  async existingTopics(topics) {
    const all = new Set(await this.admin.listTopics());
    return topics.filter((t) => all.has(t));
  }

  /**
   * {topic: {partition: {low, high}}} for the topics that exist (missing
   * topics are absent from the result).
   */
  async offsets(topics) {
    const out = {};
    for (const topic of await this.existingTopics(topics)) {
      const parts = await this.admin.fetchTopicOffsets(topic);
      out[topic] = {};
      for (const p of parts) out[topic][p.partition] = { low: Number(p.low), high: Number(p.high) };
    }
    return out;
  }

  /**
   * The current end offsets, {topic: {partition: high}}: pass it as `from` to
   * read only what is produced afterwards. A topic that does not exist yet is
   * recorded as {} (read from its beginning once it exists).
   */
  async snapshot(topics) {
    const offs = await this.offsets(topics);
    const out = {};
    for (const t of topics) {
      out[t] = {};
      for (const [p, o] of Object.entries(offs[t] ?? {})) out[t][p] = o.high;
    }
    return out;
  }

  /**
   * Every record of `topics` from `from` (default earliest) up to the end
   * offsets at the time of the call, optionally only those with key `key`
   * (a string, or an array / Set of strings). Sorted by topic, partition,
   * offset.
   */
  async readToEnd(topics, { from = {}, key = null, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    const deadline = Date.now() + timeoutMs;
    const offs = await this.offsets(topics);
    // Every partition of a subscribed topic is in the plan (and sought to its
    // start), so that partitions with nothing new are not read from their
    // beginning.
    const plan = {};
    let pending = false;
    for (const [topic, parts] of Object.entries(offs)) {
      let topicPending = false;
      const tp = {};
      for (const [p, { low, high }] of Object.entries(parts)) {
        const start = Math.min(Math.max(low, from[topic]?.[p] ?? 0), high);
        tp[p] = { start, end: high };
        if (start < high) topicPending = true;
      }
      if (topicPending) { plan[topic] = tp; pending = true; }
    }
    if (!pending) return [];
    const records = [];
    const run = await this._consume(plan, records, deadline);
    try {
      await run.until(() => run.allReached(), `reading ${Object.keys(plan).join(', ')} to the end`, timeoutMs);
    } finally {
      await run.stop();
    }
    return sortRecords(filterKey(records, key));
  }

  /**
   * Consumes `topics` from `from` until `predicate(records)` (records so far,
   * filtered by `key`, sorted) returns a truthy value, which is returned
   * together with the records: {result, records}. Topics that do not exist
   * yet are waited for. Throws after `timeoutMs`, unless `allowTimeout`:
   * then it resolves {result: undefined, records, timedOut: true} so the
   * caller can report exactly what is missing.
   */
  async waitFor(topics, predicate, { from = {}, key = null, timeoutMs = DEFAULT_TIMEOUT_MS, what = 'waiting for records', allowTimeout = false } = {}) {
    const deadline = Date.now() + timeoutMs;
    // Topics appear when the gateway first produces to them; re-check
    // existence at a short interval until all exist or time runs out.
    let existing = await this.existingTopics(topics);
    while (existing.length < topics.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      existing = await this.existingTopics(topics);
    }
    if (existing.length < topics.length) {
      const missing = topics.filter((t) => !existing.includes(t));
      if (allowTimeout && existing.length === 0) return { result: undefined, records: [], timedOut: true };
      if (!allowTimeout) throw deadlineError(what, timeoutMs, `topics never appeared: ${missing.join(', ')}`);
    }
    topics = existing;
    const offs = await this.offsets(topics);
    const plan = {};
    for (const [topic, parts] of Object.entries(offs)) {
      plan[topic] = {};
      for (const [p, { low }] of Object.entries(parts)) {
        plan[topic][p] = { start: Math.max(low, from[topic]?.[p] ?? 0), end: Infinity };
      }
    }
    const records = [];
    let result;
    const view = () => sortRecords(filterKey(records, key));
    const run = await this._consume(plan, records, deadline);
    let timedOut = false;
    try {
      // Check once before any record arrives (the predicate may hold on none).
      await run.until(() => (result = predicate(view())), what, timeoutMs, () => `${view().length} matching records so far`);
    } catch (err) {
      if (!(allowTimeout && err.timedOut)) throw err;
      timedOut = true;
    } finally {
      await run.stop();
    }
    return { result: timedOut ? undefined : result, records: view(), timedOut };
  }

  /** Starts a consumer for `plan` ({topic: {partition: {start, end}}}) collecting into `records`. */
  async _consume(plan, records, deadline) {
    const groupId = `ocpp-interop-${randomBytes(8).toString('hex')}`;
    const consumer = this.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 10_000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    const progress = {};
    for (const [topic, parts] of Object.entries(plan)) {
      progress[topic] = {};
      for (const [p, { start }] of Object.entries(parts)) progress[topic][p] = start;
    }
    const stats = this.stats;
    const waiters = new Set();
    const wake = () => { for (const w of waiters) w(); };
    let crashed = null;

    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const { topic, partition, lastOffset } = payload;
      if (progress[topic] && lastOffset != null) {
        const next = Number(lastOffset) + 1;
        if (next > (progress[topic][partition] ?? 0)) progress[topic][partition] = next;
      }
      wake();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      crashed = payload.error;
      wake();
    });

    await consumer.connect();
    await consumer.subscribe({ topics: Object.keys(plan), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const want = plan[batch.topic]?.[batch.partition];
        if (!want) return;
        for (const m of batch.messages) {
          const off = Number(m.offset);
          stats.delivered++;
          if (off >= want.start && off < want.end) records.push(decodeMessage(batch.topic, batch.partition, m));
        }
      },
    });
    for (const [topic, parts] of Object.entries(plan)) {
      for (const [p, { start }] of Object.entries(parts)) {
        consumer.seek({ topic, partition: Number(p), offset: String(start) });
      }
    }

    const allReached = () => Object.entries(plan).every(([topic, parts]) =>
      Object.entries(parts).every(([p, { end }]) => progress[topic][p] >= end));

    const until = (cond, what, timeoutMs, detail = () => '') => new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (crashed) { finish(); reject(new Error(`${what}: consumer crashed: ${crashed.message}`)); return; }
        let ok;
        try { ok = cond(); } catch (err) { finish(); reject(err); return; }
        if (ok) { finish(); resolve(); }
      };
      const finish = () => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      timer = setTimeout(() => {
        finish();
        const prog = JSON.stringify(progress);
        const target = JSON.stringify(Object.fromEntries(Object.entries(plan).map(([t, ps]) => [t, Object.fromEntries(Object.entries(ps).map(([p, v]) => [p, Number.isFinite(v.end) ? v.end : 'live']))])));
        const err = deadlineError(what, timeoutMs, `${detail()}; positions ${prog}; targets ${target}`.replace(/^; /, ''));
        err.timedOut = true;
        reject(err);
      }, Math.max(1, deadline - Date.now()));
      check();
    });

    const stop = async () => {
      let timer;
      await Promise.race([
        consumer.disconnect().catch(() => {}),
        new Promise((r) => { timer = setTimeout(r, 10_000); }),
      ]);
      clearTimeout(timer);
      // The group has no committed offsets; remove it to keep the broker tidy.
      await this.admin?.deleteGroups([groupId]).catch(() => {});
    };

    return { until, allReached, stop };
  }
}

function filterKey(records, key) {
  if (key == null) return records;
  const keys = typeof key === 'string' ? new Set([key]) : new Set(key);
  return records.filter((r) => keys.has(r.key));
}

function sortRecords(records) {
  return [...records].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset);
}

/** Records grouped by topic: {topic: [records]}. */
export function byTopic(records) {
  const out = {};
  for (const r of records) (out[r.topic] ??= []).push(r);
  return out;
}

/**
 * readToEnd, tried again when the consumer could not join its group: on a
 * freshly (re)started broker the group coordinator may not be available yet
 * (kafkajs then fails with "Consumer group was not initialized" or a crash;
 * waitForGroupCoordinator below makes that unlikely). Bounded: `attempts`
 * tries, 1 s apart.
 */
export async function readToEndRetrying(reader, topics, opts, attempts = 5) {
  return retryRead(() => reader.readToEnd(topics, opts), attempts);
}

/** `read()` (a TopicReader call), tried again on the transient consumer-group failures above. */
export async function retryRead(read, attempts = 5) {
  for (let i = 1; ; i++) {
    try {
      return await read();
    } catch (err) {
      const transient = /Consumer group was not initialized|consumer crashed|coordinator/i.test(err.message);
      if (!transient || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/**
 * Waits until the broker's group coordinator answers (an offset fetch for a
 * group that does not exist), so that the readers' consumer groups can be
 * joined: on a fresh or just restarted broker a consumer that cannot join
 * fails in a way the readers do not recover from. Bounded by `timeoutMs`.
 */
export async function waitForGroupCoordinator(reader, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await reader.admin.fetchOffsets({ groupId: 'ocpp-interop-coordinator-probe', topics: ['_readiness'] });
      return;
    } catch (err) {
      if (Date.now() >= deadline) throw new Error(`group coordinator not available within ${timeoutMs} ms: ${err.message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * Creates `topics` (kafkajs createTopics entries) with `admin` and waits until the cluster
 * serves each of them with a leader for every partition (at most `timeoutMs`). kafkajs's own
 * `waitForLeaders` asks once the controller has taken the request and gives up on
 * UNKNOWN_TOPIC_OR_PARTITION, which a broker answers until the new topic's metadata reached it.
 * Resolves what createTopics resolves (false: a topic existed already).
 */
export async function createTopicsServed(admin, topics, timeoutMs = 30_000) {
  const created = await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const notYet = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
  await eventually(async () => {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: names });
      return found.length === names.length &&
        found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
    } catch (err) {
      // kafkajs throws the protocol error itself, or once its own retries ran out one whose
      // `cause` is the last protocol error.
      if (notYet.has(err.type) || notYet.has(err.cause?.type)) return false;
      throw err;
    }
  }, timeoutMs, `topics ${names.join(', ')} created and served`);
  return created;
}
