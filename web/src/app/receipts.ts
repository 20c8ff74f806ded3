// Receipts kept on this device, and the in-browser receipt check.
import qrcode from 'qrcode-generator';
import * as U from '../crypto/index.js';
import { ApiError, ReceiptJson, api } from './api.js';
import { h } from './dom.js';
import { checkAgainstSeen } from './seen.js';
import { t } from './i18n.js';

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
  text: string;
  ok: boolean;
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

/**
 * Fetches the receipt (inclusion proof + signed checkpoint) and the board
 * entry for `tracking`, and checks everything here. `pinnedKey` is the
 * board key this device saw when casting, if any.
 */
export async function checkTracking(tracking: string, pinnedKey?: string): Promise<CheckStep[]> {
  const config = await api.config();
  const keyText = pinnedKey ?? config.board_key;
  const key = U.parseVerifierKey(keyText);
  const steps: CheckStep[] = [{ text: t('check.step.key', { key: keyText }), ok: true }];
  steps.push({ text: pinnedKey ? t('check.step.keyPinned') : t('check.step.keyServer'), ok: !pinnedKey || pinnedKey === config.board_key });
  const receipt = await api.receipt(tracking);
  const entry = await api.entry(receipt.index);
  const bytes = U.base64Decode(entry.entry);
  const { kind, payload } = U.parseEnvelope(bytes);
  const { checkpoint } = U.verifyReceipt(receipt, key, bytes);
  steps.push({ text: t('check.step.signature', { size: String(checkpoint.size) }), ok: true });
  const ballot = ballotBytesOf(kind, payload);
  if (U.toHex(U.trackingCode(ballot)) !== tracking) U.fail('bad_receipt', 'the entry is not the ballot of this tracking code');
  steps.push({ text: t('check.step.entry', { index: receipt.index, kind: t(`kind.${receipt.kind}`) }), ok: true });
  steps.push({ text: t('check.step.inclusion', { n: receipt.inclusion_proof.length, root: U.base64Encode(checkpoint.root) }), ok: true });
  const c = await checkAgainstSeen(checkpoint);
  steps.push({ text: c.text, ok: c.ok });
  return steps;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.display();
  if (e instanceof U.UrnaError) return `${e.message} (${e.code})`;
  return String((e as Error)?.message ?? e);
}
