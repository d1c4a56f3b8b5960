import type { BuiltinMessageTypes, TypedMessage } from 'egg-im-client';

/** The example's message types, as the server registers them (config.default.ts and app.ts). */
export type ChatTypes = BuiltinMessageTypes & {
  location: { lat: number; lng: number; name?: string };
  poll: { question: string; options: Array<{ id: string; text: string }>; multiple?: boolean };
  sticker: { packId: string; stickerId: string };
};

export type ChatMessage = TypedMessage<ChatTypes>;

/** The one sticker pack of the demo: stickerId → what it shows. */
export const STICKER_PACK = 'classic';
export const STICKERS: Record<string, { emoji: string; label: string }> = {
  wave: { emoji: '👋', label: 'waving hand' },
  thumbsup: { emoji: '👍', label: 'thumbs up' },
  party: { emoji: '🎉', label: 'party popper' },
  cat: { emoji: '🐱', label: 'cat' },
  heart: { emoji: '❤️', label: 'heart' },
};

/** What a person sees of a message's delivery: sent → delivered → read (or failed). */
export type Delivery = 'sent' | 'delivered' | 'read' | 'failed';
const RANK: Record<Delivery, number> = { failed: 0, sent: 1, delivered: 2, read: 3 };

/** The more advanced of two delivery states (a late notification never moves a message back). */
export function advance(current: Delivery | undefined, next: Delivery): Delivery {
  return current === undefined || RANK[next] > RANK[current] ? next : current;
}
