// ocpp-billing's start-up checks and what it does with records it cannot use, against the real
// broker. No gateway: the input records are written here as the gateway writes them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { randomHex, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';
import { eventually } from '../lib/until.mjs';
import { createTopicsServed } from '../lib/kafka.mjs';

const BILLING_BIN = process.env.OCPP_BILLING_BIN || join(REPO_ROOT, 'build', 'bin', 'ocpp-billing');

/** Starts ocpp-billing; `exited` resolves with its exit code once it has ended and its output
 * is read (killed after 45 s). */
function startBilling(args) {
  const child = spawn(BILLING_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '', child };
  child.stdout.on('data', (d) => { out.stdout += d; });
  child.stderr.on('data', (d) => { out.stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  out.exited = new Promise((resolve) => child.once('close', (code, signal) => {
    clearTimeout(timer);
    resolve(code ?? signal);
  }));
  return out;
}

describe('ocpp-billing: start-up checks and records it cannot use', () => {
  const tag = randomHex(4);
  const name = (what) => `it-billstart-${tag}.${what}`;
  const args = (what, extra = []) => ['--brokers', KAFKA_BROKERS, '--group', name(`${what}-group`),
    '--transactions-topic', name(`${what}-tx`), '--meter-values-topic', name(`${what}-mv`),
    '--sessions-topic', name(`${what}-sessions`), ...extra];
  const topics = [];
  const groups = [];
  let kafka;
  let admin;
  let producer;

  const createTopic = async (topic, configEntries = []) => {
    topics.push(topic);
    await createTopicsServed(admin, [{ topic, numPartitions: 1, configEntries }]);
  };

  before(async () => {
    kafka = new Kafka({ clientId: 'ocpp-interop-billing-start', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
  });

  after(async () => {
    await producer?.disconnect();
    await admin?.deleteGroups(groups).catch(() => {});
    await admin?.deleteTopics({ topics }).catch(() => {});
    await admin?.disconnect();
  });

  test('bad options are refused with exit code 2 and say why', async () => {
    const cases = [
      [['--batch', '0'], /--batch: expected a number of records from 1 to 100000, got "0"/],
      [['--batch=12x'], /--batch: expected a number of records from 1 to 100000, got "12x"/],
      [['--group', '--print'], /--group needs a value, got the option "--print"/],
      [['--print=yes'], /--print takes no value/],
      [['--help=yes'], /--help takes no value/],
      [['--group='], /--group needs a value, got an empty one/],
      [['--batch', ' 5'], /--batch: expected a number of records from 1 to 100000, got " 5"/],
      [['--sessions'], /unknown option "--sessions"/],
      [['--retire-after-hours', '1e3'], /--retire-after-hours: expected hours from 0 \(never\) to 87600, got "1e3"/],
      [['--clock-slack-s', '10m'], /--clock-slack-s: expected seconds from 0 to 999999, got "10m"/],
    ];
    for (const [argv, message] of cases) {
      const run = startBilling(argv);
      assert.equal(await run.exited, 2, `${argv.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  test('a sessions topic that deletes records is refused', async () => {
    await createTopic(name('delete-sessions'), [{ name: 'cleanup.policy', value: 'delete' }]);
    const run = startBilling(args('delete'));
    assert.equal(await run.exited, 4, run.stderr);
    assert.match(run.stderr, new RegExp(`${name('delete-sessions').replaceAll('.', '\\.')} has cleanup\\.policy=delete: the sessions topic must be compacted`));
  });

  test('a record on the sessions topic it cannot read stops the start until a tombstone replaces it', async () => {
    const sessions = name('foreign-sessions');
    await createTopic(sessions, [{ name: 'cleanup.policy', value: 'compact' }]);
    await producer.send({ topic: sessions, messages: [{ key: 'CP|1', value: JSON.stringify({ hello: 'world' }) }] });
    groups.push(name('foreign-group'), `${name('foreign-group')}-restore`);
    const refused = startBilling(args('foreign'));
    assert.equal(await refused.exited, 4, refused.stderr);
    assert.match(refused.stderr, new RegExp(`restoring: 1 record\\(s\\) on ${sessions.replaceAll('.', '\\.')} are not session records this version reads`));
    assert.match(refused.stderr, new RegExp(`key "CP\\|1" at ${sessions.replaceAll('.', '\\.')} partition 0 offset 0`));
    assert.doesNotMatch(refused.stderr, /restored \d+ session record/);
    // What the message advises: a tombstone for the key. The next start reads past both.
    await producer.send({ topic: sessions, messages: [{ key: 'CP|1', value: null }] });
    const started = startBilling(args('foreign'));
    await eventually(async () => /restored 0 session record\(s\): 0 session\(s\) in memory, 0 retired/.test(started.stderr), 30_000, `started (${started.stderr})`);
    started.child.kill('SIGTERM');
    assert.equal(await started.exited, 0, started.stderr);
  });

  test('records it cannot use are logged with where they are, and the rest billed', async () => {
    const transactions = name('log-tx');
    const sessions = name('log-sessions');
    topics.push(sessions);
    await createTopic(transactions);
    await createTopic(name('log-mv'));
    const station = `CPBS${tag}`;
    const event = (action, dedupKey, payload, reply) => JSON.stringify({
      stationId: station, ocppVersion: '1.6', action, dedupKey, payload, ...(reply ? { reply } : {}),
    });
    await producer.send({ topic: transactions, messages: [
      { key: station, value: 'not json at all' },
      { key: station, value: event('StartTransaction', 'd-1', { connectorId: 1, idTag: 'T', meterStart: 0, timestamp: '2026-12-01T10:00:00Z' }) },
      { key: station, value: event('StartTransaction', 'd-2', { connectorId: 1, idTag: 'T', meterStart: 100, timestamp: '2026-12-01T10:00:00Z' }, { transactionId: 42, idTagInfo: { status: 'Accepted' } }) },
      { key: station, value: event('StopTransaction', 'd-3', { transactionId: 42, meterStop: 1100, timestamp: '2026-12-01T10:30:00Z' }, { }) },
    ] });
    groups.push(name('log-group'), `${name('log-group')}-restore`);
    const run = startBilling(args('log', ['--print']));
    await eventually(async () => run.stdout.includes(`"${station}|42"`), 60_000, `the closed session printed (${run.stderr})`);
    const printed = JSON.parse(run.stdout.trim().split('\n').find((line) => line.includes(`"${station}|42"`)));
    assert.equal(printed.status, 'closed');
    assert.equal(printed.energyWh, 1000);
    // And written: a read_committed reader finds the record.
    const reader = kafka.consumer({ groupId: name('log-reader'), readUncommitted: false });
    groups.push(name('log-reader'));
    const seen = [];
    await reader.connect();
    await reader.subscribe({ topic: sessions, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => { seen.push(message.key.toString()); } });
    try {
      await eventually(async () => seen.includes(`${station}|42`), 30_000, 'the session on the sessions topic');
    } finally {
      await reader.disconnect();
    }
    assert.match(run.stderr, new RegExp(`skipped the record at ${transactions.replaceAll('.', '\\.')} partition 0 offset 0: not JSON`));
    assert.match(run.stderr, new RegExp(`skipped the record at ${transactions.replaceAll('.', '\\.')} partition 0 offset 1: a 1\\.6 StartTransaction without the answer the station got \\(reply\\)`));
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr);
    assert.match(run.stderr, /stopping \(2 applied, 0 duplicates, 0 ignored, 2 unusable, 0 late\)/);
  });

  test('closed sessions retire against how far billing has read; later events are late and change nothing', async () => {
    const transactions = name('retire-tx');
    const meterValues = name('retire-mv');
    const sessions = name('retire-sessions');
    topics.push(sessions);
    await createTopic(transactions);
    await createTopic(meterValues);
    const station = `CPRT${tag}`;
    const event = (action, dedupKey, payload, reply) => JSON.stringify({
      stationId: station, ocppVersion: '1.6', action, dedupKey, payload, ...(reply ? { reply } : {}),
    });
    const session = (tx, startWh, stopWh) => [
      { key: station, value: event('StartTransaction', `s-${tx}`, { connectorId: 1, idTag: 'T', meterStart: startWh, timestamp: '2026-12-01T10:00:00Z' }, { transactionId: tx, idTagInfo: { status: 'Accepted' } }) },
      { key: station, value: event('StopTransaction', `e-${tx}`, { transactionId: tx, meterStop: stopWh, timestamp: '2026-12-01T10:30:00Z' }, { }) },
    ];
    const meterValue = (tx, at, wh) => ({ key: station, value: event('MeterValues', `m-${tx}-${wh}`, { connectorId: 1, transactionId: tx, meterValue: [{ timestamp: at, sampledValue: [{ value: String(wh) }] }] }) });
    groups.push(name('retire-group'), `${name('retire-group')}-restore`);
    const horizon = ['--retire-after-hours', '0.0005', '--clock-slack-s', '0'];  // 1.8 s

    // Session 7 is billed, then retires once billing has read 1.8 s past it.
    await producer.send({ topic: transactions, messages: session(7, 100, 600) });
    const run = startBilling(args('retire', [...horizon, '--print']));
    await eventually(async () => /retired 1 closed session\(s\) unchanged for 0\.0005 h \(0 in memory, 1 retired\)/.test(run.stderr), 30_000,
      `session 7 retired (${run.stderr})`);
    // A stop with another reading and a MeterValues for it: late.
    await producer.send({ topic: transactions, messages: [{ key: station, value: event('StopTransaction', 'e-7b', { transactionId: 7, meterStop: 9000, timestamp: '2026-12-01T11:30:00Z' }, { }) }] });
    await producer.send({ topic: meterValues, messages: [meterValue(7, '2026-12-01T11:40:00Z', 9500)] });
    await eventually(async () => (run.stderr.match(/whose session was closed and retired from memory: not applied/g) || []).length === 2, 30_000,
      `both late events logged (${run.stderr})`);
    // Session 8, and billing stopped as soon as it is committed (printed), before it retires.
    await producer.send({ topic: transactions, messages: session(8, 1000, 1400) });
    await eventually(async () => run.stdout.includes(`"${station}|8"`), 30_000, `session 8 billed (${run.stderr})`);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr);
    assert.match(run.stderr, /stopping \(4 applied, 0 duplicates, 0 ignored, 0 unusable, 2 late\)/);
    const stoppedAt = Date.now();

    // Down for longer than the horizon. By the clock session 8 would be stale; by how far
    // billing had read when it committed it, it is not: it is read back into memory.
    await eventually(async () => Date.now() > stoppedAt + 3000, 5_000, 'three seconds down');
    // Written while billing is down, more than the horizon after session 8 last changed: late
    // by the records' times, though the session is in memory.
    await producer.send({ topic: meterValues, messages: [meterValue(8, '2026-12-01T09:50:00Z', 10)] });
    const again = startBilling(args('retire', horizon));
    await eventually(async () => /restored \d+ session record\(s\): 1 session\(s\) in memory, 1 retired/.test(again.stderr), 30_000,
      `session 8 read back into memory, 7 retired (${again.stderr})`);
    await eventually(async () => /more than the retirement horizon after its closed session last changed: not applied/.test(again.stderr), 30_000,
      `the MeterValues for session 8 late (${again.stderr})`);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0, again.stderr);
    assert.match(again.stderr, /stopping \(0 applied, 0 duplicates, 0 ignored, 0 unusable, 1 late\)/);

    // The sessions topic holds both sessions as billed, and nothing else.
    const records = [];
    const lastOffset = new Map();  // partition -> offset of the last record read
    const reader = kafka.consumer({ groupId: name('retire-reader'), readUncommitted: false });
    groups.push(name('retire-reader'));
    await reader.connect();
    await reader.subscribe({ topic: sessions, fromBeginning: true });
    await reader.run({ eachMessage: async ({ partition, message }) => {
      records.push(JSON.parse(message.value.toString()));
      lastOffset.set(partition, Number(message.offset));
    } });
    try {
      // Read to the end of every partition: each committed transaction ends with a marker
      // after its last record, so the end is the last record's offset + 2.
      await eventually(async () => (await admin.fetchTopicOffsets(sessions)).every(({ partition, high }) =>
        Number(high) === 0 || (lastOffset.has(partition) && lastOffset.get(partition) + 2 >= Number(high))), 30_000,
      'the sessions topic read to its end');
    } finally {
      await reader.disconnect();
    }
    const energy = new Map(records.map((r) => [r.sessionKey, r.energyWh]));
    assert.deepEqual(Object.fromEntries(energy), { [`${station}|7`]: 500, [`${station}|8`]: 400 });
    for (const r of records) {
      assert.equal(r.status, 'closed', JSON.stringify(r));
      assert.equal(r.energyWh, r.sessionKey.endsWith('|7') ? 500 : 400, JSON.stringify(records));
      assert.equal(r.stoppedAt, '2026-12-01T10:30:00.000Z');
      assert.match(r.updatedAt, /^\d{4}-\d\d-\d\dT/);
    }
  });
});
