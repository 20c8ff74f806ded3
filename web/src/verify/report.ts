// The verifier's report (spec/export.md §X4): every named check with the
// number of items checked, the failures (with the entry index when one is at
// fault), and the verdict. The names and their order are those of §X4 (the
// `observers` check is board.md §B10.3 / record.md §R16).

export const CHECKS = [
  'record.files',
  'checkpoint.signature',
  'checkpoint.root',
  'checkpoint.consistency',
  'checkpoint.cosigners',
  'entries.envelope',
  'board.order',
  'manifest',
  'key_ceremony',
  'credential_lists',
  'voting_opened',
  'ballot.window',
  'ballot.decode',
  'ballot.header',
  'ballot.credential',
  'ballot.replay',
  'ballot.proofs',
  'revote',
  'audited_ballot',
  'voting_closed',
  'reconciliation',
  'tally',
  'partial_decryptions',
  'combination',
  'results',
  'complaints',
  'observers',
  'precinct_lists',
] as const;
export type CheckName = (typeof CHECKS)[number];

/** Failures kept per check; beyond it only the count grows (bounded memory). */
export const MAX_FAILURES_KEPT = 200;

export interface Failure {
  entry: number | null;
  message: string;
}
export interface CheckResult {
  name: CheckName;
  checked: number;
  failed: number;
  failures: Failure[];
  notes: string[];
}
export type Verdict = 'valid' | 'invalid' | 'unusable';
export interface Report {
  verdict: Verdict;
  /** Why the record is unusable (§X4), when it is. */
  unusable: string | null;
  checks: CheckResult[];
  failedChecks: CheckName[];
  entries: number;
  ballots: number;
}

export class Checks {
  private readonly map = new Map<CheckName, CheckResult>(
    CHECKS.map((name) => [name, { name, checked: 0, failed: 0, failures: [], notes: [] }]),
  );
  unusable: string | null = null;

  checked(name: CheckName, n = 1): void {
    this.map.get(name)!.checked += n;
  }
  fail(name: CheckName, entry: number | null, message: string): void {
    const c = this.map.get(name)!;
    c.failed++;
    if (c.failures.length < MAX_FAILURES_KEPT) c.failures.push({ entry, message });
  }
  note(name: CheckName, text: string): void {
    this.map.get(name)!.notes.push(text);
  }
  hasFailed(name: CheckName): boolean {
    return this.map.get(name)!.failed > 0;
  }
  report(entries: number, ballots: number): Report {
    const checks = CHECKS.map((n) => this.map.get(n)!);
    const failedChecks = checks.filter((c) => c.failed > 0).map((c) => c.name);
    const verdict: Verdict = this.unusable !== null ? 'unusable' : failedChecks.length ? 'invalid' : 'valid';
    return { verdict, unusable: this.unusable, checks, failedChecks, entries, ballots };
  }
}

/** The message of a thrown error, with its stable code when it has one. */
export function why(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && code !== msg ? `${code}: ${msg}` : msg;
}
