// A small real election for the browser tests: starts `urna serve` on a
// fresh data directory, publishes a manifest, runs a 2-of-2 key ceremony
// with the `urna trustee` commands, and drives the admin API.
import { spawn, execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';

const ROOT = resolve(new URL('../../..', import.meta.url).pathname);
export const URNA = process.env.URNA_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'release/urna');

/** Fails first and clearly when the binary is missing (not with 20 "fetch failed"). */
function requireUrna() {
  try {
    accessSync(URNA, constants.X_OK);
  } catch {
    throw new Error(`no urna binary at ${URNA}: run \`cargo build --release -p urna\` or set URNA_BIN (web/ci.sh does both)`);
  }
}
const TOKEN = 'e2e-admin-token';
const PASS = 'e2e trustee passphrase';

const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export function manifest({ registrationSeconds, votingSeconds, trustees = { n: 2, t: 2 } }) {
  const now = Date.now();
  const opens = now + registrationSeconds * 1000;
  const closes = opens + votingSeconds * 1000;
  const times = { opens, closes };
  // Display texts in both languages (spec/record.md §R2.5): the pages show
  // these, never the ids; `name`/`title` are the fallbacks.
  const people = [
    ['Анна Иванова', 'Anna Ivanova', 'Партия «Сады»', 'Gardens Party', '1970 г. р., инженер', 'born 1970, engineer'],
    ['Борис Петров', 'Boris Petrov', 'самовыдвижение', 'independent', '1965 г. р., учитель', 'born 1965, teacher'],
    ['Вера Смирнова', 'Vera Smirnova', 'Партия «Мосты»', 'Bridges Party', '1982 г. р., врач', 'born 1982, doctor'],
    ['Григорий Орлов', 'Grigory Orlov', 'самовыдвижение', 'independent', '1958 г. р., пенсионер', 'born 1958, pensioner'],
  ];
  const candidates = people
    .map(([ru, en, pru, pen, dru, den], i) => `{ id = "cand-${i + 1}", name = "Candidate ${i + 1}", names = { ru = "${ru}", en = "${en}" }, parties = { ru = "${pru}", en = "${pen}" }, descriptions = { ru = "${dru}", en = "${den}" } }`)
    .join(',\n  ');
  const text = `id = "e2e-2026"
kind = "election"
title = { ru = "Проверочные выборы", en = "Test election" }

[schedule]
time_zone = "UTC"
applications_open = "${iso(now - 3600_000)}"
applications_close = "${iso(opens)}"
voting_opens = "${iso(opens)}"
voting_closes = "${iso(closes)}"

[revote]
policy = "last-counts"
min_interval_seconds = 1

[reconciliation]
paper_after_evote = "evote-stands"

[trustees]
n = ${trustees.n}
t = ${trustees.t}

[[regions]]
id = "r1"
name = "Region One"
names = { ru = "Центральный регион", en = "Central Region" }
[[regions.districts]]
id = "d1"
name = "District One"
names = { ru = "Северный округ", en = "North District" }
precincts = [{ id = "p1", name = "Precinct 1", names = { ru = "Участок №1", en = "Polling station 1" } }, { id = "p2", name = "Precinct 2", names = { ru = "Участок №2", en = "Polling station 2" } }]
[[regions.districts]]
id = "d2"
name = "District Two"
names = { ru = "Южный округ", en = "South District" }
precincts = [{ id = "p3", name = "Precinct 3", names = { ru = "Участок №3", en = "Polling station 3" } }]

[[contests]]
id = "question"
kind = "question"
title = "Do you approve the new park?"
titles = { ru = "Одобряете ли вы новый парк?", en = "Do you approve the new park?" }
descriptions = { ru = "Парк на месте старого рынка.", en = "A park where the old market is." }
min = 1
max = 1
options = [{ id = "yes", name = "Yes", names = { ru = "Да", en = "Yes" } }, { id = "no", name = "No", names = { ru = "Нет", en = "No" } }]

[[contests]]
id = "council"
kind = "candidates"
title = "City council"
titles = { ru = "Городской совет: не более двух кандидатов", en = "City council: up to two candidates" }
min = 0
max = 2
districts = ["d1"]
order = "random"
options = [
  ${candidates},
]

[[contests]]
id = "budget"
kind = "question"
title = "Participatory budget"
titles = { ru = "Бюджет района: до 3 баллов", en = "District budget: up to 3 points" }
min = 0
max = 3
option_max = 2
options = [{ id = "roads", name = "Roads", names = { ru = "Дороги", en = "Roads" } }, { id = "schools", name = "Schools", names = { ru = "Школы", en = "Schools" } }, { id = "parks", name = "Parks", names = { ru = "Парки", en = "Parks" } }]

[[contests]]
id = "list"
kind = "party-list"
title = "Party list"
titles = { ru = "Партийный список", en = "Party list" }
min = 1
max = 1
options = [{ id = "party-a", name = "Party A", party = "A", names = { ru = "Партия «Сады»", en = "Gardens Party" } }, { id = "party-b", name = "Party B", party = "B", names = { ru = "Партия «Мосты»", en = "Bridges Party" } }, { id = "party-c", name = "Party C", party = "C", names = { ru = "Партия «Реки»", en = "Rivers Party" } }]
`;
  return { text, times };
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
    s.on('error', rej);
  });
}

export function urna(args, env = {}) {
  return execFileSync(URNA, args, { env: { ...process.env, URNA_TRUSTEE_PASSPHRASE: PASS, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Reads a trustee payload file (spec/trustee.md §T4) into hex payloads. */
export function payloadFile(path) {
  const b = readFileSync(path);
  if (b.subarray(0, 8).toString() !== 'URNA-PAY') return [b.toString('hex')];
  const count = b.readUInt32BE(9);
  const out = [];
  let o = 13;
  for (let i = 0; i < count; i++) {
    const len = b.readUInt32BE(o + 2);
    out.push(b.subarray(o + 6, o + 6 + len).toString('hex'));
    o += 6 + len;
  }
  return out;
}

/** registration.toml of the e2e election (spec/registration.md §G1). */
export const REGISTRATION_TOML = `participating_regions = ["r1"]
account_cutoff = "2020-06-01"
max_applicants_per_phone = 2
`;

/** The voter registry of region r1 (spec/registration.md §G2). */
export const REGISTRY_CSV = `voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
v1,Alice Smith,1980-01-02,4508 111111,+79160000001,,p1,2015-01-01
v2,Борис Иванов,1975-03-04,4508 222222,+79160000002,,p2,2016-02-03
v3,Carol Late,1990-05-06,4508 333333,+79160000003,,p3,2021-01-01
v4,Дарья Смирнова,1949-07-08,4508 444444,+79160000004,,p1,2010-01-01
`;

export class Election {
  /**
   * `registration: true` serves voter registration (`urna serve
   * --registration`, one-time codes in the outbox file `this.outbox`) and
   * imports REGISTRY_CSV through the admin endpoint.
   */
  static async start({ registrationSeconds = 20, votingSeconds = 60, webDir = join(ROOT, 'web/dist'), registration = false, trustees, ceremony = true } = {}) {
    requireUrna();
    const dir = mkdtempSync(join(tmpdir(), 'urna-e2e-'));
    const e = new Election(dir);
    e.port = await freePort();
    e.base = `http://127.0.0.1:${e.port}`;
    writeFileSync(join(dir, 'token'), TOKEN + '\n');
    const m = manifest({ registrationSeconds, votingSeconds, trustees });
    e.times = m.times;
    writeFileSync(join(dir, 'manifest.toml'), m.text);
    const args = ['serve', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${e.port}`, '--origin', 'e2e.urna.test/e2e-2026', '--admin-token-file', join(dir, 'token'), '--web', webDir];
    if (registration) {
      writeFileSync(join(dir, 'registration.toml'), REGISTRATION_TOML);
      e.outbox = join(dir, 'outbox.jsonl');
      args.push('--registration', join(dir, 'registration.toml'), '--manifest', join(dir, 'manifest.toml'), '--outbox', e.outbox);
    }
    e.proc = spawn(URNA, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    e.log = '';
    e.proc.stderr.on('data', (d) => (e.log += d));
    let spawnError = null;
    e.proc.on('error', (err) => (spawnError = err));
    for (let i = 0; i < 100; i++) {
      if (spawnError) throw new Error(`could not start ${URNA}: ${spawnError.message}`);
      if (e.proc.exitCode !== null) throw new Error(`urna serve exited with ${e.proc.exitCode}:\n${e.log}`);
      try {
        await fetch(`${e.base}/election/status`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await e.admin('POST', '/election/manifest', m.text, 'application/toml');
    if (registration) await e.admin('POST', '/registration/admin/registry?region=r1&file=r1.csv', REGISTRY_CSV, 'text/csv');
    // `ceremony: false` leaves the key ceremony to the test (trustee pages, `urna trustee --server`).
    if (ceremony) await e.ceremony();
    return e;
  }

  constructor(dir) {
    this.dir = dir;
  }

  async admin(method, path, body, type = 'application/json') {
    const r = await fetch(this.base + path, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': type } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async ceremony() {
    const d = (n) => join(this.dir, n);
    for (const sub of ['r1', 'r2', 'c']) mkdirSync(d(sub), { recursive: true });
    const m = d('manifest.toml');
    for (const i of [1, 2]) urna(['trustee', 'init', '--manifest', m, '--index', String(i), '--store', d(`t${i}.key`), '--out', d(`r1/${i}.msg`)]);
    for (const i of [1, 2]) for (const p of payloadFile(d(`r1/${i}.msg`))) await this.admin('POST', '/election/ceremony', { message: p });
    for (const i of [1, 2]) urna(['trustee', 'deal', '--store', d(`t${i}.key`), '--round1', d('r1'), '--out', d(`r2/${i}.msg`)]);
    for (const i of [1, 2]) for (const p of payloadFile(d(`r2/${i}.msg`))) await this.admin('POST', '/election/ceremony', { message: p });
    for (const i of [1, 2]) urna(['trustee', 'receive', '--store', d(`t${i}.key`), '--round2', d('r2'), '--out', d(`c/${i}.msg`)]);
    for (const i of [1, 2]) for (const p of payloadFile(d(`c/${i}.msg`))) await this.admin('POST', '/election/ceremony', { message: p });
    for (const i of [1, 2]) urna(['trustee', 'finish', '--store', d(`t${i}.key`), '--complaints', d('c')]);
    await this.admin('POST', '/election/ceremony/finish');
  }

  /** The latest one-time code sent to `phone`, read from the development outbox. */
  codeFor(phone) {
    const lines = readFileSync(this.outbox, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const m = lines.filter((l) => l.to === phone).pop();
    if (!m) throw new Error(`no message to ${phone} in ${this.outbox}`);
    return m.text.split(' ')[0];
  }

  register(district, precinct, credential) {
    return this.admin('POST', '/election/credentials', { district, precinct, credential });
  }

  async waitUntil(ms) {
    const wait = ms - Date.now() + 300;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  async open() {
    await this.waitUntil(this.times.opens);
    return this.admin('POST', '/election/open');
  }

  async close() {
    await this.waitUntil(this.times.closes);
    return this.admin('POST', '/election/close');
  }

  /** Tally, both trustees' partial decryptions, results. */
  async results() {
    await this.admin('POST', '/election/tally');
    const { payloads } = await this.admin('GET', '/election/tally');
    const files = payloads.map((p, i) => {
      const f = join(this.dir, `tally-${String(i).padStart(4, '0')}.bin`);
      writeFileSync(f, Buffer.from(p, 'hex'));
      return f;
    });
    for (const i of [1, 2]) {
      const out = join(this.dir, `partials-${i}.msg`);
      urna(['trustee', 'decrypt', '--store', join(this.dir, `t${i}.key`), '--tally', ...files, '--manifest', join(this.dir, 'manifest.toml'), '--out', out]);
      await this.admin('POST', '/election/partials', { payloads: payloadFile(out) });
    }
    return this.admin('POST', '/election/results');
  }

  /** `urna export` of the live board, then `urna verify` of the record: { status, report }. */
  verifyRecord() {
    const out = join(this.dir, 'record');
    urna(['export', '--data', join(this.dir, 'data'), '--out', out]);
    try {
      return { status: 0, report: urna(['verify', out, '--json']) };
    } catch (e) {
      return { status: e.status, report: String(e.stdout) + String(e.stderr) };
    }
  }

  stop() {
    this.proc?.kill('SIGINT');
  }
}

// `node test/e2e/election.mjs` alone: prepare an election and keep serving it.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  // `--registration`: voter registration (apply, one-time codes in the outbox, REGISTRY_CSV).
  const registration = process.argv.includes('--registration');
  const e = await Election.start({ registrationSeconds: 3600, votingSeconds: 3600, registration });
  console.log(`serving ${e.base} (data in ${e.dir}); registration open, Ctrl-C to stop`);
  if (registration) console.log(`one-time codes: ${e.outbox}; voters:\n${REGISTRY_CSV}`);
  process.on('SIGINT', () => {
    e.stop();
    process.exit(0);
  });
}
