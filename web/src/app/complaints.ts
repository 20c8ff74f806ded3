// Complaints (spec/registration.md §G8): the public list with status and
// the commission's answers, and a form for voters and observers. No
// identity is asked or kept.
import { ApiError, call } from './api.js';
import { resolveShort } from './ballotbox.js';
import { clear, focusHeading, h } from './dom.js';
import { currentLang, t } from './i18n.js';
import { matchesPrefix, parseShortCode, shortCode } from './receiptcode.js';
import { errorText, savedReceipts } from './receipts.js';

interface Complaint {
  id: number;
  time: number;
  author: 'voter' | 'observer';
  text: string;
  tracking: string | null;
  status: 'open' | 'answered';
  answer: string | null;
  answered: number | null;
}

/**
 * The full tracking code a complaint names: typed in full, or a short code
 * (spec/receipt-code.md) matched first against this device's receipts —
 * a ballot missing from the board is what a voter complains about, and
 * only the receipt still knows its full code — then against the board.
 * A string is an i18n key of the reason it cannot be used.
 */
async function complaintTracking(raw: string): Promise<{ tracking: string | null } | { problem: string }> {
  const text = raw.trim();
  if (!text) return { tracking: null };
  if (/^[0-9a-fA-F]{64}$/.test(text)) return { tracking: text.toLowerCase() };
  const short = parseShortCode(text);
  if (!short) return { problem: 'complaints.badCode' };
  const mine = savedReceipts().filter((r) => matchesPrefix(r.tracking, short.prefixBits));
  if (mine.length === 1) return { tracking: mine[0].tracking };
  const status = await call<{ tree_size: number }>('/election/status');
  const found = await resolveShort(short.prefixBits, status.tree_size);
  if (found.length === 1) return { tracking: found[0].tracking };
  return { problem: found.length === 0 ? 'complaints.codeMissing' : 'check.ambiguous' };
}

const when = (unix: number) => new Date(unix * 1000).toLocaleString(currentLang() === 'ru' ? 'ru-RU' : 'en-GB', { timeZone: 'UTC', timeZoneName: 'short' });

export async function complaintsPage(root: HTMLElement): Promise<void> {
  clear(root, h('h1', {}, t('complaints.heading')), h('p', {}, t('common.loading')));
  let list: Complaint[];
  try {
    list = (await call<{ complaints: Complaint[] }>('/registration/complaints')).complaints;
  } catch (e) {
    const off = e instanceof ApiError && e.status === 404;
    clear(root, h('h1', {}, t('complaints.heading')), h('p', { class: off ? '' : 'error', role: off ? undefined : 'alert' }, off ? t('complaints.unavailable') : errorText(e)));
    return;
  }
  const author = h('select', { id: 'c-author', name: 'author' },
    h('option', { value: 'voter' }, t('complaints.voter')),
    h('option', { value: 'observer' }, t('complaints.observer')),
  ) as HTMLSelectElement;
  const text = h('textarea', { id: 'c-text', name: 'text', rows: 5, maxlength: 4000, required: true }) as HTMLTextAreaElement;
  const tracking = h('input', { id: 'c-tracking', name: 'tracking', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters', 'aria-describedby': 'c-tracking-hint' }) as HTMLInputElement;
  const result = h('div', { role: 'status', 'aria-live': 'polite', 'data-testid': 'complaint-result' });
  const submit = async () => {
    if (!text.value.trim()) {
      clear(result, h('p', { class: 'error', role: 'alert' }, t('complaints.empty')));
      text.focus();
      return;
    }
    try {
      const named = await complaintTracking(tracking.value);
      if ('problem' in named) {
        clear(result, h('p', { class: 'error', role: 'alert' }, t(named.problem)));
        tracking.focus();
        return;
      }
      const r = await call<{ id: number }>('/registration/complaints', { method: 'POST', body: JSON.stringify({ author: author.value, text: text.value, tracking: named.tracking ?? undefined }) });
      clear(result, h('p', { class: 'ok' }, t('complaints.filed', { id: r.id })));
      text.value = '';
      tracking.value = '';
      list = (await call<{ complaints: Complaint[] }>('/registration/complaints')).complaints;
      renderList(list);
    } catch (e) {
      clear(result, h('p', { class: 'error', role: 'alert' }, errorText(e)));
    }
  };
  const listEl = h('div', { 'data-testid': 'complaints' });
  const renderList = (items: Complaint[]) =>
    clear(listEl, items.length === 0
      ? h('p', {}, t('complaints.none'))
      : h('ol', { class: 'complaints' }, [...items].reverse().map((c) =>
          h('li', { 'data-status': c.status },
            h('h3', {}, t('complaints.item', { id: c.id, author: t(`complaints.${c.author}`), status: t(`complaints.status.${c.status}`) })),
            h('p', { class: 'muted' }, when(c.time)),
            h('p', {}, c.text),
            c.tracking && h('p', {}, t('complaints.about'), ' ', h('a', { href: `#/check/${c.tracking}` }, h('span', { class: 'code' }, shortCode(c.tracking)))),
            c.answer && h('div', { class: 'answer' }, h('p', {}, h('strong', {}, t('complaints.answer')), ' ', c.answered ? when(c.answered) : ''), h('p', {}, c.answer)),
          ))));
  renderList(list);
  clear(
    root,
    h('h1', {}, t('complaints.heading')),
    h('p', {}, t('complaints.text')),
    h('form', { 'aria-labelledby': 'c-form-h', onsubmit: (e: Event) => { e.preventDefault(); void submit(); } },
      h('h2', { id: 'c-form-h' }, t('complaints.formHeading')),
      h('div', { class: 'field' }, h('label', { for: 'c-author' }, t('complaints.author')), author),
      h('div', { class: 'field' }, h('label', { for: 'c-text' }, t('complaints.textLabel')), text),
      h('div', { class: 'field' }, h('label', { for: 'c-tracking' }, t('complaints.tracking')), h('p', { id: 'c-tracking-hint', class: 'muted' }, t('complaints.trackingHint')), tracking),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('complaints.submit'))),
      result,
    ),
    h('h2', {}, t('complaints.listHeading')),
    listEl,
  );
  focusHeading(root);
}
