// Security profile 1 with a cold password cache: a fleet arrives at once with passwords
// hashed with enough PBKDF2 iterations for about 100 ms of this machine's CPU per check
// (measured first: a fixed 200,000 took 33 ms on a fast day, and the whole fleet nearly fit
// in the saved budget).
// The checks the cache cannot answer share a CPU budget
// (security.password_check_ms_per_second); past it the gateway answers 503 password_budget
// with Retry-After, every station gets in by retrying as told, a station already connected
// keeps being answered meanwhile, and once checked the same fleet reconnects at once.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startGateway, randomHex, httpGet, withGatewayLog } from '../lib/gateway.mjs';
import { hashPassword, pbkdf2IterationsFor, writeRegistry, rawUpgrade, basic, SecureStation } from '../lib/security.mjs';

const PW = 'budget-Secret-1';
const FLEET = 12;
// 300 ms of CPU per second and as much saved up: 12 checks of about 100 ms need four times
// the saved budget, and the rest are in within seconds.
const BUDGET_MS = 300;
const RETRY_DEADLINE_MS = 60_000;

describe('password checks on a cold cache share a CPU budget', () => {
  let gw;
  let dir;
  const run = randomHex(3);
  const fleet = Array.from({ length: FLEET }, (_, i) => `PB${String(i + 1).padStart(2, '0')}-${run}`);
  const keeperId = `PBK-${run}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-password-budget-'));
    const iterations = pbkdf2IterationsFor(100);
    process.stderr.write(`# fleet's checks: ${iterations} PBKDF2 iterations\n`);
    const slow = hashPassword(PW, iterations);
    const registry = writeRegistry(join(dir, 'stations.yaml'), [
      { id: keeperId, hash: hashPassword(PW) },
      ...fleet.map((id) => ({ id, hash: slow })),
    ]);
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, `security:\n  password_check_ms_per_second: ${BUDGET_MS}\n  password_check_burst_ms: ${BUDGET_MS}\n`);
    gw = await startGateway({
      gatewayId: `it-pwbudget-${run}`,
      extraArgs: ['--config', config, '--security-profile', '1', '--stations-file', registry],
    });
  });

  after(async () => {
    await gw?.stop().catch((e) => process.stderr.write(`${e.message}\n`));
    if (dir && !gw?.failed) rmSync(dir, { recursive: true, force: true });
  });

  const upgrade = (id) => rawUpgrade({
    port: gw.port, path: `/ocpp/${id}`, protocols: ['ocpp1.6'], headers: { Authorization: basic(id, PW) },
  });

  test('the fleet gets in by retrying as told while a connected station keeps being answered', withGatewayLog(() => gw, async () => {
    const keeper = new SecureStation({ endpoint: `ws://127.0.0.1:${gw.port}/ocpp`, identity: keeperId, protocol: 'ocpp1.6', password: PW });
    await keeper.connect();
    await keeper.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'Budget' });

    let stormDone = false;
    const heartbeats = (async () => {
      let answered = 0;
      while (!stormDone) {
        await keeper.call('Heartbeat', {});
        answered++;
        await new Promise((resolve) => setTimeout(resolve, 100));  // pace: within messages_per_second
      }
      return answered;
    })();

    // Everyone at once: the budget lets a few checks run, the rest are told to come back.
    const first = await Promise.all(fleet.map((id) => upgrade(id)));
    const statuses = first.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 101 || s === 503), `statuses: ${statuses.join(' ')}`);
    const refused = first.filter((r) => r.status === 503);
    assert.ok(refused.length > 0, 'a cold fleet beyond the budget is refused with 503');
    assert.ok(statuses.includes(101), 'the budget admits some checks at once');
    for (const r of refused) {
      assert.equal(r.body.trim(), 'password_budget');
      assert.equal(r.headers['retry-after'], '1');
    }

    // Retrying after Retry-After, every station is in within the budget's pace.
    const started = Date.now();
    let waiting = fleet.filter((_, i) => first[i].status !== 101);
    let rounds = 0;
    while (waiting.length > 0 && Date.now() - started < RETRY_DEADLINE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));  // the server's Retry-After
      const again = await Promise.all(waiting.map((id) => upgrade(id)));
      for (const r of again) assert.ok(r.status === 101 || r.status === 503, `status ${r.status} ${r.body}`);
      waiting = waiting.filter((_, i) => again[i].status !== 101);
      rounds++;
    }
    assert.deepEqual(waiting, [], `still refused after ${rounds} rounds`);
    stormDone = true;
    const answered = await heartbeats;
    assert.ok(answered > 0, 'the connected station was answered during the storm');
    assert.deepEqual(keeper.strictFailures, []);

    // Checked once, the same fleet reconnects at once: the cache needs no budget.
    const warm = await Promise.all(fleet.map((id) => upgrade(id)));
    assert.deepEqual(warm.map((r) => r.status), fleet.map(() => 101));

    const metrics = await httpGet(gw.adminUrl('/metrics'));
    const line = metrics.text.split('\n').find((l) => l.startsWith('ocpp_handshakes_refused_total{reason="password_budget"}'));
    assert.ok(line, 'refusals counted by reason');
    assert.ok(Number(line.split(' ').pop()) >= refused.length, line);
    await keeper.close();
  }));
});
