// The event-class contract against a real broker: `ocpp-gateway topics plan | apply | check`
// on topics of their own, a cluster that drifted from the contract, and start-up comparing
// the topics with it (kafka.topic_drift warn / refuse).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { GATEWAY_BIN, KAFKA_BROKERS, randomHex, startGateway } from '../lib/gateway.mjs';
import { eventually } from '../lib/until.mjs';
import { createTopicsServed } from '../lib/kafka.mjs';

const ROLES = [
  'transaction', 'metering', 'status', 'heartbeat', 'authorization', 'security', 'report',
  'data-transfer', 'der', 'connections', 'dead_letter', 'commands', 'command_results', 'presence',
  'stations', 'id_tokens', 'command_routes', 'transaction_ids', 'violations',
];
const DAY_MS = 86_400_000;

/** Runs `ocpp-gateway topics VERB` (asynchronously: kafkajs shares this event loop). */
function topics(verb, configFile, extra = []) {
  return new Promise((resolve) => {
    execFile(GATEWAY_BIN, ['topics', verb, '--config', configFile, '--kafka-brokers', KAFKA_BROKERS, ...extra],
      { timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (error.code ?? -1) : 0, stdout, stderr });
      });
  });
}

describe('topics plan, apply and check hold the cluster to the contract', () => {
  const tag = randomHex(4);
  const name = (role) => `it-contract-${tag}.${role}`;
  const all = ROLES.map(name);
  let dir;
  let admin;
  const configs = {};

  const writeConfig = (file, extra = [], renamed = {}) => {
    const lines = ['topics:', ...ROLES.map((r) => `  ${r}: ${renamed[r] ?? name(r)}`), ...extra, ''];
    const path = join(dir, file);
    writeFileSync(path, lines.join('\n'));
    return path;
  };
  const config = async (topic, key) => {
    const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: [key] }] });
    return resources[0].configEntries.find((e) => e.configName === key)?.configValue;
  };
  const partitions = async (topic) => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-contract-'));
    admin = new Kafka({ clientId: 'ocpp-interop-contract', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    configs.plain = writeConfig('plain.yaml');
  });

  after(async () => {
    await admin?.deleteTopics({ topics: all }).catch(() => {});
    await admin?.disconnect();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('an empty cluster: plan and check list every topic to create and change nothing', async () => {
    const plan = await topics('plan', configs.plain);
    assert.equal(plan.code, 0, plan.stderr);
    for (const topic of all) assert.match(plan.stdout, new RegExp(`^\\+ create ${topic.replace('.', '\\.')} \\(`, 'm'));
    assert.match(plan.stdout, /0 of 19 topics meet the contract; 19 change\(s\)/);
    const check = await topics('check', configs.plain);
    assert.equal(check.code, 1, 'check must fail while topics are missing');
    assert.equal(check.stdout, plan.stdout);
    const existing = (await admin.listTopics()).filter((t) => t.startsWith(`it-contract-${tag}.`));
    assert.deepEqual(existing, [], 'plan or check created a topic');
  });

  test('apply creates every topic as the contract says; check then passes', async () => {
    const apply = await topics('apply', configs.plain);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    assert.match(apply.stdout, /19 of 19 topics meet the contract; 0 change\(s\)/);
    assert.equal(await config(name('transaction'), 'retention.ms'), String(90 * DAY_MS));
    assert.equal(await config(name('heartbeat'), 'retention.ms'), String(DAY_MS));
    assert.equal(await config(name('stations'), 'cleanup.policy'), 'compact');
    assert.equal(await partitions(name('transaction_ids')), 1);
    const check = await topics('check', configs.plain);
    assert.equal(check.code, 0, check.stdout);
  });

  test('a drifted cluster: check fails naming each difference, apply fixes configs and raises partitions', async () => {
    // Someone shortened the status retention by hand; the contract now wants more partitions.
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: name('status'), configEntries: [
      { name: 'retention.ms', value: '1000' }, { name: 'cleanup.policy', value: 'delete' }, { name: 'min.insync.replicas', value: '1' }] }] });
    const before = await partitions(name('status'));
    const raised = writeConfig('raised.yaml', ['contract:', `  status: {partitions: ${before + 2}}`]);
    await eventually(async () => (await config(name('status'), 'retention.ms')) === '1000', 10_000, 'the hand-made change');
    const check = await topics('check', raised);
    assert.equal(check.code, 1);
    assert.match(check.stdout, new RegExp(`^~ ${name('status').replace('.', '\\.')}: partitions ${before} -> ${before + 2}$`, 'm'));
    assert.match(check.stdout, new RegExp(`^~ ${name('status').replace('.', '\\.')}: retention\\.ms 1000 -> ${7 * DAY_MS}$`, 'm'));
    assert.match(check.stdout, /18 of 19 topics meet the contract; 2 change\(s\)/);
    const apply = await topics('apply', raised);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    assert.equal(await partitions(name('status')), before + 2);
    assert.equal(await config(name('status'), 'retention.ms'), String(7 * DAY_MS));
    assert.equal((await topics('check', raised)).code, 0);
    // A contract asking for fewer partitions than there are is met: counts are never lowered.
    assert.equal((await topics('check', configs.plain)).code, 0);
    assert.equal(await partitions(name('status')), before + 2);
  });

  test('a transaction-id topic with several partitions is refused, never repartitioned', async () => {
    const wide = `it-contract-${tag}.wide-ids`;
    all.push(wide);
    await createTopicsServed(admin, [{ topic: wide, numPartitions: 3 }]);
    const file = writeConfig('wide.yaml', [], { transaction_ids: wide });
    const check = await topics('check', file);
    assert.equal(check.code, 1);
    assert.match(check.stdout, new RegExp(`^! ${wide.replace('.', '\\.')}: 3 partitions; it must have exactly 1`, 'm'));
    const apply = await topics('apply', file);
    assert.equal(apply.code, 1, 'apply cannot meet the contract here and must say so');
    assert.equal(await partitions(wide), 3);
    // Its retention was brought to the contract all the same.
    assert.equal(await config(wide, 'retention.ms'), String(DAY_MS));
  });

  test('start-up compares the topics with the contract: warn by default, refuse when told', async () => {
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: name('report'), configEntries: [
      { name: 'retention.ms', value: '2000' }, { name: 'cleanup.policy', value: 'delete' }, { name: 'min.insync.replicas', value: '1' }] }] });
    await eventually(async () => (await config(name('report'), 'retention.ms')) === '2000', 10_000, 'the hand-made change');
    const gw = await startGateway({ extraArgs: ['--config', configs.plain] });
    try {
      assert.match(gw.output(), /1 topic difference\(s\) from the contract.*retention\.ms 2000 -> 604800000/);
    } finally {
      await gw.stop();
    }
    const refusing = writeConfig('refuse.yaml', ['kafka:', '  topic_drift: refuse']);
    await assert.rejects(startGateway({ extraArgs: ['--config', refusing], readyTimeoutMs: 20_000 }),
      /topic difference\(s\) from the contract \(kafka\.topic_drift: refuse/);
    assert.equal((await topics('apply', refusing)).code, 0);
    const gw2 = await startGateway({ extraArgs: ['--config', refusing] });
    await gw2.stop();
  });

  test('bad arguments and an unreachable cluster get a clear error', async () => {
    const missing = await new Promise((resolve) => execFile(GATEWAY_BIN, ['topics', 'prune'], (error, stdout, stderr) => resolve({ code: error?.code, stderr })));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /plan, apply or check/);
    const nowhere = await topics('check', configs.plain, ['--kafka-brokers', '127.0.0.1:1', '--kafka-property', 'socket.connection.setup.timeout.ms=1000']);
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /cannot reach Kafka at 127\.0\.0\.1:1/);
  });
});
