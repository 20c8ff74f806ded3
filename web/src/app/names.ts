// The manifest's display texts (GET /election/names, spec/api.md §A2;
// spec/record.md §R2.5), fetched once per page load: every page shows
// names, never ids, in the voter's language.
import { call } from './api.js';
import { Texts, loc } from './i18n.js';

export interface NamedOption {
  id: string;
  name: string;
  names: Texts;
  party: string | null;
  parties: Texts;
  descriptions: Texts;
}
export interface NamedContest {
  id: string;
  title: string;
  titles: Texts;
  descriptions: Texts;
  options: NamedOption[];
}
export interface NamesJson {
  election: string;
  title: Texts;
  schedule: { time_zone: string; applications_open: string; applications_close: string; voting_opens: string; voting_closes: string };
  regions: { id: string; name: string; names: Texts }[];
  districts: { id: string; name: string; names: Texts; region: string }[];
  precincts: { id: string; name: string; names: Texts; district: string }[];
  contests: NamedContest[];
}

let cached: Promise<NamesJson> | null = null;

/** The names, or null when no manifest is published (or the request failed). */
export async function names(): Promise<NamesJson | null> {
  cached ??= call<NamesJson>('/election/names');
  try {
    return await cached;
  } catch {
    cached = null;
    return null;
  }
}

/** Lookups with the id as the last resort (an id is shown only if the manifest has no name). */
export class Names {
  constructor(readonly n: NamesJson | null) {}
  title(): string {
    return this.n ? loc(this.n.title, this.n.election) : '';
  }
  region(id: string): string {
    const r = this.n?.regions.find((x) => x.id === id);
    return r ? loc(r.names, r.name) : id;
  }
  district(id: string): string {
    const d = this.n?.districts.find((x) => x.id === id);
    return d ? loc(d.names, d.name) : id;
  }
  precinct(id: string): string {
    const p = this.n?.precincts.find((x) => x.id === id);
    return p ? loc(p.names, p.name) : id;
  }
  contestOf(id: string): NamedContest | undefined {
    return this.n?.contests.find((c) => c.id === id);
  }
  contest(id: string, fallback = id): string {
    const c = this.contestOf(id);
    return c ? loc(c.titles, c.title) : fallback;
  }
  contestDescription(id: string): string | null {
    const c = this.contestOf(id);
    return c?.descriptions ? loc(c.descriptions, '') || null : null;
  }
  optionOf(contest: string, id: string): NamedOption | undefined {
    return this.contestOf(contest)?.options.find((o) => o.id === id);
  }
  option(contest: string, id: string, fallback = id): string {
    const o = this.optionOf(contest, id);
    return o ? loc(o.names, o.name) : fallback;
  }
  /** The party line and the biography line of an option, if any. */
  optionLines(contest: string, id: string): string[] {
    const o = this.optionOf(contest, id);
    if (!o) return [];
    return [o.parties ? loc(o.parties, '') : '', o.descriptions ? loc(o.descriptions, '') : ''].filter((x) => x);
  }
}

export const loadNames = async (): Promise<Names> => new Names(await names());
