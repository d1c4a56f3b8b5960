import { isImClientError } from 'egg-im-client';
import { STICKERS, type ChatMessage, type Delivery } from './types';

/** `document.getElementById` that fails loudly: the page's skeleton is index.html. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

type Child = Node | string | null | undefined | false;

/** A small element builder: `el('li', { class: 'x' }, 'text', child)`. Text is always text, never HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [ name, value ] of Object.entries(attrs)) if (value !== undefined) element.setAttribute(name, value);
  for (const child of children) if (child) element.append(child);
  return element;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export function shortTime(iso: string): string {
  const date = new Date(iso);
  return Date.now() - date.getTime() < 20 * 3600_000 ? timeFormat.format(date) : dayFormat.format(date);
}

/**
 * A message's content as the person should see it: each custom type rendered as itself. The server checked the
 * content against its type, but the page never trusts it further than that: what it cannot draw says so.
 */
export function renderContent(message: ChatMessage): HTMLElement {
  try {
    return drawContent(message);
  } catch {
    return el('p', { class: 'unknown' }, `(a ${message.type} message this page cannot show)`);
  }
}

function drawContent(message: ChatMessage): HTMLElement {
  switch (message.type) {
    case 'text':
      return el('p', { class: 'text' }, message.content.text);
    case 'location': {
      // class-validator's IsLatitude also takes numeric strings
      const lat = Number(message.content.lat);
      const lng = Number(message.content.lng);
      const name = message.content.name;
      if (!Number.isFinite(lat) || !Number.isFinite(lng)) throw new Error('not a point');
      const link = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lng}#map=16/${lat}/${lng}`;
      return el('div', { class: 'location', 'data-type': 'location' },
        el('span', { 'aria-hidden': 'true' }, '📍 '),
        el('a', { href: link, target: '_blank', rel: 'noopener' }, name || 'Shared location'),
        el('span', { class: 'coords' }, ` ${lat.toFixed(4)}, ${lng.toFixed(4)}`));
    }
    case 'poll': {
      const { question, options, multiple } = message.content;
      return el('figure', { class: 'poll', 'data-type': 'poll' },
        el('figcaption', {}, el('span', { 'aria-hidden': 'true' }, '📊 '), `Poll: ${question}`),
        el('ol', {}, ...options.map(option => el('li', {}, option.text))),
        multiple ? el('small', {}, 'several answers allowed') : null);
    }
    case 'sticker': {
      const sticker = STICKERS[message.content.stickerId];
      const label = `sticker: ${sticker?.label ?? message.content.stickerId}`;
      return el('div', { class: 'sticker', 'data-type': 'sticker', role: 'img', 'aria-label': label, title: label }, sticker?.emoji ?? '🏷️');
    }
    default:
      return el('p', { class: 'unknown' }, `(a ${(message as { type: string }).type} message)`);
  }
}

/** One line of preview for the conversation list. */
export function preview(message: ChatMessage): string {
  switch (message.type) {
    case 'text': return message.content.text;
    case 'location': return `📍 ${message.content.name || 'location'}`;
    case 'poll': return `📊 ${message.content.question}`;
    case 'sticker': return STICKERS[message.content.stickerId]?.emoji ?? 'sticker';
    default: return `(${(message as { type: string }).type})`;
  }
}

const MARKS: Record<Delivery, string> = { sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

export function deliveryMark(status: Delivery): HTMLElement {
  return el('span', { class: `status ${status}`, 'data-status': status },
    el('span', { 'aria-hidden': 'true' }, `${MARKS[status]} `), status);
}

/** An error in words for the person: the server's message (and what it found wrong), or what failed locally. */
export function describeError(err: unknown): string {
  if (isImClientError(err)) {
    if (err.code === 'NETWORK_ERROR' || err.code === 'TIMEOUT' || err.code === 'DISCONNECTED') {
      return 'The server cannot be reached right now. Check the connection and try again.';
    }
    const problems = (err.details as { problems?: unknown } | undefined)?.problems;
    const text = err.message.replace(/^\[egg-im-client\]\s*/, '');
    return Array.isArray(problems) && problems.length > 0 ? `${text}: ${problems.join('; ')}` : text;
  }
  return err instanceof Error ? err.message : String(err);
}
