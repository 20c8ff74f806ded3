// record.md §R5 `voting_opened` and §R8 `voting_closed`; export.md §X4.1
// says which check owns a second or missing marker.
import { Reader, equalBytes, fail } from '../crypto/bytes.js';
import { Entry } from './envelope.js';
import { why } from './report.js';
import { State } from './state.js';

export function votingOpened(st: State, e: Entry, onOpen: () => void): void {
  const { checks } = st;
  checks.checked('voting_opened');
  if (st.opened !== null) {
    checks.fail('voting_opened', e.index, `a second voting_opened (the first is entry ${st.opened})`);
    return;
  }
  st.opened = e.index;
  onOpen();
  try {
    const r = new Reader(e.payload);
    const v = r.u8();
    if (v !== 1) fail('unknown_version', `voting_opened version ${v}`);
    const M = r.bytes(32);
    r.u64();
    const total = r.u64();
    r.end();
    if (!st.manifest || !equalBytes(M, st.manifest.hash)) fail('wrong_manifest', 'M is not the manifest hash');
    if (total !== BigInt(st.sealedCount)) fail('wrong_count', `states ${total} sealed credentials, the lists seal ${st.sealedCount}`);
  } catch (err) {
    checks.fail('voting_opened', e.index, why(err));
  }
}

export function votingClosed(st: State, e: Entry): void {
  const { checks } = st;
  checks.checked('voting_closed');
  if (st.opened === null) {
    checks.fail('voting_closed', e.index, 'voting_closed without voting_opened before it');
    return;
  }
  if (st.closed !== null) {
    checks.fail('voting_closed', e.index, `a second voting_closed (the first is entry ${st.closed})`);
    return;
  }
  st.closed = e.index;
  try {
    const r = new Reader(e.payload);
    const v = r.u8();
    if (v !== 1) fail('unknown_version', `voting_closed version ${v}`);
    const M = r.bytes(32);
    r.u64();
    const ballots = r.u64();
    const audited = r.u64();
    r.end();
    if (!st.manifest || !equalBytes(M, st.manifest.hash)) fail('wrong_manifest', 'M is not the manifest hash');
    if (ballots !== BigInt(st.ballotEntries)) fail('wrong_count', `states ${ballots} ballot entries, the board has ${st.ballotEntries}`);
    if (audited !== BigInt(st.auditedEntries)) fail('wrong_count', `states ${audited} audited ballots, the board has ${st.auditedEntries}`);
  } catch (err) {
    checks.fail('voting_closed', e.index, why(err));
  }
}

export function markersFinish(st: State): void {
  if (st.opened === null) st.checks.fail('voting_opened', null, 'no voting_opened on the board');
  if (st.closed === null) st.checks.fail('voting_closed', null, 'no voting_closed on the board');
}
