// Receipts kept on this device, and the in-browser receipt check.
import qrcode from 'qrcode-generator';
import * as U from '../crypto/index.js';
import { ApiError, ReceiptJson, StyleJson, api } from './api.js';
import { h } from './dom.js';
import { checkAgainstSeen } from './seen.js';
import { plural, t } from './i18n.js';

export interface SavedReceipt extends ReceiptJson {
  board_key: string;
  saved_at: string;
}
const KEY = 'urna.receipts';

export function savedReceipts(): SavedReceipt[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? '[]');
  } catch {
    return [];
  }
}
export function saveReceipt(r: ReceiptJson, boardKey: string): SavedReceipt {
  const s: SavedReceipt = { ...r, board_key: boardKey, saved_at: new Date().toISOString() };
  localStorage.setItem(KEY, JSON.stringify([s, ...savedReceipts().filter((x) => x.tracking !== r.tracking)].slice(0, 50)));
  return s;
}

export function qrImage(text: string): HTMLElement {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  return h('img', { src: qr.createDataURL(4, 4), alt: t('receipt.qr'), class: 'qr', width: 180, height: 180, 'data-testid': 'qr' });
}

export interface CheckStep {
  /** One plain sentence for the voter. */
  plain: string;
  /** A pass, a caveat (something this device could not check) or a failure. */
  status: 'ok' | 'caveat' | 'fail';
}

export interface CheckResult {
  kind: 'ballot' | 'audited_ballot';
  steps: CheckStep[];
  /** The technical account, shown on request. */
  details: string[];
  /** An audited ballot's opened choices, from the board's audit entry (record.md §R7). */
  audit?: { contests: StyleJson['contests']; selections: number[][] };
}

/** The ballot bytes inside an entry's payload (record.md §R6, §R7). */
function ballotBytesOf(kind: number, payload: Uint8Array): Uint8Array {
  if (kind === U.KIND_BALLOT) return payload;
  if (kind === U.KIND_AUDITED_BALLOT) {
    const r = new U.Reader(payload);
    r.u8();
    return r.bytes(r.u32());
  }
  U.fail('bad_receipt', 'the entry is not a ballot');
}

/** The district of a ballot header (record.md §R6.1: u8(1) ‖ SHA-256(id) ‖ u8(len) ‖ district). */
function districtOf(header: Uint8Array): string {
  if (header.length < 34 || header[0] !== 1 || header.length !== 34 + header[33]) U.fail('header', 'unexpected ballot header');
  return new TextDecoder().decode(header.subarray(34));
}

/** Opens an audit entry on any device: decodes it, re-encrypts every value with its nonce, and maps it to the style's contests. */
async function openAudit(payload: Uint8Array): Promise<NonNullable<CheckResult['audit']>> {
  const opened = U.decodeAuditPayload(payload);
  const style = await api.style(districtOf(opened.ballot.header));
  const key = U.checkPublicKey(U.decodeElement(U.fromHex(style.joint_key, 32), false));
  U.verifyAudit(opened.ballot, key, opened.selections, opened.nonces);
  return { contests: style.contests, selections: opened.selections };
}

/**
 * Fetches the receipt (inclusion proof + signed checkpoint) and the board
 * entry for `tracking`, and checks everything here. `pinnedKey` is the
 * board key this device saw when casting, if any: without it, the key is
 * the server's word, a caveat and never a pass.
 */
export async function checkTracking(tracking: string, pinnedKey?: string): Promise<CheckResult> {
  const config = await api.config();
  const keyText = pinnedKey ?? config.board_key;
  const key = U.parseVerifierKey(keyText);
  const receipt = await api.receipt(tracking);
  const entry = await api.entry(receipt.index);
  const bytes = U.base64Decode(entry.entry);
  const { kind, payload } = U.parseEnvelope(bytes);
  const { checkpoint } = U.verifyReceipt(receipt, key, bytes);
  const ballot = ballotBytesOf(kind, payload);
  if (U.toHex(U.trackingCode(ballot)) !== tracking) U.fail('bad_receipt', 'the entry is not the ballot of this tracking code');
  const audited = kind === U.KIND_AUDITED_BALLOT;
  const steps: CheckStep[] = [
    { plain: audited ? t('check.plain.inBoxAudited') : t('check.plain.inBox'), status: 'ok' },
  ];
  const c = await checkAgainstSeen(checkpoint);
  steps.push({ plain: c.ok ? (c.first ? t('check.plain.firstLook') : t('check.plain.notRewritten')) : c.text, status: c.ok ? (c.first ? 'caveat' : 'ok') : 'fail' });
  if (!pinnedKey) steps.push({ plain: t('check.plain.keyServer'), status: 'caveat' });
  else if (pinnedKey !== config.board_key) steps.push({ plain: t('check.plain.keyChanged'), status: 'fail' });
  else steps.push({ plain: t('check.plain.keyPinned'), status: 'ok' });
  const details = [
    t('check.step.key', { key: keyText }),
    t('check.step.signature', { size: String(checkpoint.size) }),
    t('check.step.entry', { index: receipt.index, kind: t(`kind.${receipt.kind}`) }),
    plural('check.step.inclusion', receipt.inclusion_proof.length, { root: U.base64Encode(checkpoint.root) }),
    c.text,
    t('check.step.verify'),
  ];
  const result: CheckResult = { kind: audited ? 'audited_ballot' : 'ballot', steps, details };
  if (audited) result.audit = await openAudit(payload);
  return result;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.display();
  if (e instanceof U.UrnaError) return t('err.device', { code: e.code });
  return t('err.device', { code: 'exception' });
}
