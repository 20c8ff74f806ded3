// The urna HTTP API (spec/api.md), same origin only.
import { has, t } from './i18n.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /**
   * The sentence shown to a person, in the voter's language, from the
   * stable code (spec/api.md §A1.3); the server's English sentence is never
   * shown, the code is kept for a support call.
   */
  display(): string {
    if (this.status === 0) return t('common.networkError');
    return t('common.serverError', { message: explain(this.code), code: this.code });
  }
}

/** The voter's-language sentence for a stable error code. */
export function explain(code: string): string {
  if (has(`err.${code}`)) return t(`err.${code}`);
  if (has(`reg.reason.${code}`)) return t(`reg.reason.${code}`);
  return t('err.unknown');
}

export async function call<T>(path: string, init?: RequestInit): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(path, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', String((e as Error).message ?? e));
  }
  const text = await resp.text();
  if (!resp.ok) {
    try {
      const j = JSON.parse(text);
      throw new ApiError(resp.status, j.error?.code ?? 'unknown', j.error?.message ?? text);
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(resp.status, 'http_' + resp.status, text.slice(0, 200));
    }
  }
  const type = resp.headers.get('content-type') ?? '';
  return (type.includes('json') ? JSON.parse(text) : text) as T;
}

export interface StyleJson {
  election: string;
  district: string;
  manifest_hash: string;
  header: string;
  contests: { id: string; title: string; options: { id: string; name: string }[]; order?: 'manifest' | 'random'; shape: { options: number; option_max: number; min: number; max: number } }[];
  joint_key: string;
  fingerprint: string;
}
export interface Area {
  id: string;
  parent?: string;
  eligible: number;
  voted: number;
}
export interface TurnoutJson {
  phase: string;
  eligible: number;
  voted: number;
  ballots: number;
  audited: number;
  regions: Area[];
  districts: Area[];
  precincts: Area[];
  hours: { hour: string; ballots: number; voters: number }[];
}
export interface ResultsJson {
  results: { scope: string; id: string | null; contest: string; ballots: number; options: string[]; counts: number[] }[];
}
export interface EntryJson {
  index: number;
  leaf_hash: string;
  kind: string;
  entry: string;
}
export interface ReceiptJson {
  tracking: string;
  kind: string;
  index: number;
  leaf_hash: string;
  tree_size: number;
  inclusion_proof: string[];
  checkpoint: string;
}

export const api = {
  config: () => call<{ board_key: string; origin: string }>('/web/config.json'),
  status: () => call<{ phase: string; fingerprint: string | null; tree_size: number }>('/election/status'),
  style: (district: string) => call<StyleJson>(`/election/style/${encodeURIComponent(district)}`),
  turnout: () => call<TurnoutJson>('/election/turnout'),
  results: () => call<ResultsJson>('/election/results'),
  receipt: (tracking: string) => call<ReceiptJson>(`/receipt/${tracking}`),
  entry: (index: number) => call<EntryJson>(`/board/entries/${index}`),
  cast: (ballotHex: string) => call<ReceiptJson>('/election/ballots', { method: 'POST', body: JSON.stringify({ ballot: ballotHex }) }),
  audit: (payloadHex: string) => call<ReceiptJson>('/election/audits', { method: 'POST', body: JSON.stringify({ audit: payloadHex }) }),
};

export interface EntriesPage {
  tree_size: number;
  start: number;
  end: number;
  entries: EntryJson[];
}
export const boardApi = {
  checkpoint: () => call<string>('/board/checkpoint'),
  entries: (start: number, end: number) => call<EntriesPage>(`/board/entries?start=${start}&end=${end}`),
  consistency: (old: number, now: number) => call<{ old: number; new: number; proof: string[] }>(`/board/proof/consistency?old=${old}&new=${now}`),
  inclusion: (size: number, index: number) => call<{ index: number; tree_size: number; proof: string[] }>(`/board/proof/inclusion?size=${size}&index=${index}`),
};
