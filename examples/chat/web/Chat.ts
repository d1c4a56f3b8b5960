import { ImClient, isImClientError, type ConversationSummary, type CursorEvent, type StatusEvent } from 'egg-im-client';
import { advance, type ChatMessage, type ChatTypes, type Delivery } from './types';

/** A conversation as the page knows it. A direct chat not written to yet is a draft (`draft:<peerId>`). */
export interface Conversation extends Omit<ConversationSummary, 'conversationId' | 'lastMessage'> {
  id: string;
  lastMessage?: ChatMessage;
  /** Loaded or received messages by seq. */
  messages: Map<number, ChatMessage>;
  historyLoaded: boolean;
  /** Older messages than those loaded exist (history read backwards). */
  hasOlder: boolean;
}

export interface Presence { online: boolean; lastSeenAt?: string }

/** What the view is told to redraw. */
export interface ChatEvents {
  changed(what: 'list' | 'open' | 'presence' | 'connection'): void;
  /** A message from someone else arrived (for the screen reader's announcement); `group` names its group. */
  arrived(message: ChatMessage, from: string, group?: string): void;
  failed(err: unknown): void;
  ended(reason: string): void;
}

const HISTORY_PAGE = 50;

/**
 * The page's state over one `ImClient`: conversations, their messages, delivery marks, names and presence.
 * Everything the person sees comes from here; everything they do goes through here to the client.
 */
export class Chat {
  readonly conversations = new Map<string, Conversation>();
  readonly usernames = new Map<string, string>();
  readonly presence = new Map<string, Presence | null>();
  readonly delivery = new Map<string, Delivery>();
  openId?: string;
  connected = false;
  #refreshList?: Promise<void>;
  #loggingOut = false;
  /** Name lookups run one after the other: each asks only for the ids still unknown. */
  #naming: Promise<void> = Promise.resolve();
  /** Groups whose marks wait for a status read: the receipts of one frame share one read per group. */
  readonly #groupMarks = new Map<string, number>();

  private constructor(readonly client: ImClient<ChatTypes>, readonly username: string, private readonly events: ChatEvents) {}

  /**
   * Starts a chat on a session: the conversation list first (unread counts, last messages), its last seqs as the
   * client's cursors, then the socket: what arrived meanwhile comes by the client's sync, in order, once.
   */
  static async start(session: { token: string; userId: string; username: string }, events: ChatEvents): Promise<Chat> {
    const probe = new ImClient<ChatTypes>({ baseUrl: location.origin, token: session.token, userId: session.userId });
    const conversations = await allConversations(probe);
    const cursors = Object.fromEntries(conversations.map(c => [ c.conversationId, c.lastSeq ]));
    const client = new ImClient<ChatTypes>({ baseUrl: location.origin, token: session.token, userId: session.userId, cursors });
    const chat = new Chat(client, session.username, events);
    chat.usernames.set(session.userId, session.username);
    for (const summary of conversations) chat.#upsert(summary);
    await chat.#knowNames();
    chat.#listen();
    await client.connect();
    return chat;
  }

  get userId(): string {
    return this.client.userId;
  }

  /** Conversations, most recently active first. */
  sorted(): Conversation[] {
    const time = (c: Conversation) => (c.lastMessage ? Date.parse(c.lastMessage.createdAt) : 0);
    return [ ...this.conversations.values() ].sort((a, b) => time(b) - time(a));
  }

  title(conversation: Conversation): string {
    if (conversation.type === 'group') return conversation.name ?? 'Group';
    return this.nameOf(conversation.peerId!);
  }

  nameOf(userId: string): string {
    return this.usernames.get(userId) ?? userId;
  }

  open(): Conversation | undefined {
    return this.openId === undefined ? undefined : this.conversations.get(this.openId);
  }

  /** Messages of a conversation in seq order. */
  messagesOf(conversation: Conversation): ChatMessage[] {
    return [ ...conversation.messages.values() ].sort((a, b) => a.seq - b.seq);
  }

  deliveryOf(message: ChatMessage): Delivery {
    return this.delivery.get(message.id) ?? 'sent';
  }

  async search(prefix: string): Promise<Array<{ userId: string; username: string }>> {
    const { users } = await this.client.findUsers(prefix, 20);
    for (const user of users) this.usernames.set(user.userId, user.username);
    return users.filter(user => user.userId !== this.userId);
  }

  /** Opens the direct conversation with a user (a draft until the first message). */
  async openDirect(peerId: string): Promise<void> {
    const existing = [ ...this.conversations.values() ].find(c => c.type === 'direct' && c.peerId === peerId);
    const conversation = existing ?? this.#add({ id: `draft:${peerId}`, type: 'direct', peerId });
    await this.select(conversation.id);
  }

  async select(conversationId: string): Promise<void> {
    this.openId = conversationId;
    this.events.changed('open');
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    if (!conversation.historyLoaded && !conversation.id.startsWith('draft:')) await this.#loadHistory(conversation);
    await this.markRead();
    if (conversation.peerId) await this.refreshPresence([ conversation.peerId ]);
  }

  close(): void {
    this.openId = undefined;
    this.events.changed('open');
  }

  /** Sends to the open conversation; the message shows as sent once the server stored it. */
  async send<K extends keyof ChatTypes & string>(type: K, content: ChatTypes[K]): Promise<void> {
    const conversation = this.open();
    if (!conversation) return;
    const to = conversation.type === 'group' ? { type: 'group' as const, id: conversation.groupId! } : { type: 'user' as const, id: conversation.peerId! };
    const message = await this.client.send(to, type, content) as ChatMessage;
    if (conversation.id.startsWith('draft:')) {
      this.conversations.delete(conversation.id);
      const real = this.conversations.get(message.conversationId) ?? this.#add({ id: message.conversationId, type: 'direct', peerId: conversation.peerId });
      real.historyLoaded = real.historyLoaded || message.seq === 1;
      if (!real.historyLoaded) await this.#loadHistory(real);
      this.openId = real.id;
      this.refreshPresence([ real.peerId! ]).catch(err => this.events.failed(err)); // visible once they wrote or read in it (contacts)
    }
    this.delivery.set(message.id, advance(this.delivery.get(message.id), 'sent'));
    this.#take(message);
    this.events.changed('open');
  }

  async createGroup(name: string, usernames: string[]): Promise<void> {
    const memberIds = await this.#resolve(usernames);
    const { conversationId, groupId } = await this.client.createGroup(name, memberIds);
    this.#add({ id: conversationId, type: 'group', groupId, name, historyLoaded: true });
    await this.select(conversationId);
  }

  async addMember(username: string): Promise<string> {
    const conversation = this.open();
    if (!conversation?.groupId) throw new Error('Open a group first.');
    const [ userId ] = await this.#resolve([ username ]);
    await this.client.addMembers(conversation.groupId, [ userId ]);
    return this.nameOf(userId);
  }

  /** Marks the open conversation read up to its last message, while the page is visible. */
  async markRead(): Promise<void> {
    const conversation = this.open();
    if (!conversation || document.visibilityState !== 'visible' || conversation.id.startsWith('draft:')) return;
    const last = Math.max(conversation.lastSeq, ...conversation.messages.keys());
    if (last <= conversation.readSeq) return;
    conversation.readSeq = last;
    conversation.unread = 0;
    this.events.changed('list');
    await this.client.markRead(conversation.id, last);
  }

  /** Asks for the presence of some users (visible to contacts only: a stranger's is unknown). */
  async refreshPresence(userIds: string[]): Promise<void> {
    await Promise.all(userIds.map(async userId => {
      try {
        this.presence.set(userId, await this.client.presence(userId));
      } catch (err) {
        if (isImClientError(err) && err.code === 'NOT_FOUND') this.presence.set(userId, null);
        else throw err;
      }
    }));
    this.events.changed('presence');
  }

  /** Ends the session on the server (its sockets are told `session:expired`: not news to this page). */
  async logout(): Promise<void> {
    this.#loggingOut = true;
    await this.client.logout();
  }

  #listen(): void {
    const { client } = this;
    client.on('connect', () => {
      this.connected = true;
      this.events.changed('connection');
    });
    client.on('disconnect', () => {
      this.connected = false;
      this.events.changed('connection');
    });
    client.on('message', message => {
      this.#take(message);
      if (message.senderId !== this.userId) {
        this.#knowNames().then(() => {
          const conversation = this.conversations.get(message.conversationId)!;
          this.events.arrived(message, this.nameOf(message.senderId), conversation.type === 'group' ? this.title(conversation) : undefined);
        }, err => this.events.failed(err));
      }
      // Someone not shown online just wrote (which also makes a new contact's presence visible): ask again rather
      // than wait for the next presence round.
      if (this.presence.get(message.senderId)?.online !== true) this.refreshPresence([ message.senderId ]).catch(err => this.events.failed(err));
      if (message.conversationId === this.openId) this.markRead().catch(err => this.events.failed(err));
      this.events.changed(message.conversationId === this.openId ? 'open' : 'list');
    });
    client.on('receipt', receipt => this.#onReceipt(receipt).catch(err => this.events.failed(err)));
    client.on('status', event => this.#onStatus(event).catch(err => this.events.failed(err)));
    client.on('sessionExpired', () => {
      if (!this.#loggingOut) this.events.ended('Your session ended. Please log in again.');
    });
    client.on('error', err => this.events.failed(err));
  }

  /** A message from the server (push, sync or own send), into its conversation. */
  #take(message: ChatMessage): void {
    let conversation = this.conversations.get(message.conversationId);
    if (!conversation) {
      // A conversation new to this page: someone wrote first, or added us to a group. The list has its details.
      conversation = this.#add({ id: message.conversationId, type: message.conversationId.startsWith('g:') ? 'group' : 'direct' });
      if (conversation.type === 'direct' && message.senderId !== this.userId) conversation.peerId = message.senderId;
      conversation.historyLoaded = message.seq === 1;
      this.#refresh();
    }
    conversation.messages.set(message.seq, message);
    if (message.seq >= conversation.lastSeq) {
      conversation.lastSeq = message.seq;
      conversation.lastMessage = message;
    }
    if (message.senderId === this.userId) conversation.readSeq = Math.max(conversation.readSeq, message.seq);
    conversation.unread = Math.max(0, conversation.lastSeq - conversation.readSeq);
    if (!this.usernames.has(message.senderId)) this.#knowNames().catch(err => this.events.failed(err));
  }

  /** How far a member got: in a direct chat that is the mark; a group's mark needs every member (the status API). */
  async #onReceipt(receipt: CursorEvent): Promise<void> {
    const conversation = this.conversations.get(receipt.conversationId);
    if (!conversation) return;
    if (conversation.type === 'group') {
      const upTo = Math.max(receipt.deliveredSeq ?? 0, receipt.readSeq ?? 0);
      if (this.#groupMarks.size === 0) queueMicrotask(() => this.#markGroups().catch(err => this.events.failed(err)));
      this.#groupMarks.set(conversation.id, Math.max(this.#groupMarks.get(conversation.id) ?? 0, upTo));
      return;
    }
    if (receipt.deliveredSeq !== undefined) this.#markUpTo(conversation.id, receipt.deliveredSeq, 'delivered');
    if (receipt.readSeq !== undefined) this.#markUpTo(conversation.id, receipt.readSeq, 'read');
  }

  /** One status read per group for the receipts gathered: the group's mark is its members' slowest. */
  async #markGroups(): Promise<void> {
    const marks = [ ...this.#groupMarks ];
    this.#groupMarks.clear();
    await Promise.all(marks.map(async ([ conversationId, upTo ]) => {
      // The newest of this user's messages the receipts cover (messages are kept in arrival order, not by seq).
      let own: ChatMessage | undefined;
      for (const message of this.conversations.get(conversationId)?.messages.values() ?? []) {
        if (message.senderId === this.userId && message.seq <= upTo && message.seq > (own?.seq ?? 0)) own = message;
      }
      if (own) this.#markUpTo(conversationId, own.seq, (await this.client.messageStatus(own.id)).status);
    }));
  }

  /** Delivery marks only move forward; a status covers the sender's earlier messages too (status is a cursor). */
  async #onStatus(event: StatusEvent): Promise<void> {
    const conversation = this.conversations.get(event.conversationId);
    let status: Delivery = event.status === 'pending' ? 'sent' : event.status;
    if (conversation?.type === 'group') status = (await this.client.messageStatus(event.messageId)).status;
    this.#markUpTo(event.conversationId, event.seq, status);
  }

  #markUpTo(conversationId: string, seq: number, status: Delivery): void {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    for (const message of conversation.messages.values()) {
      if (message.senderId === this.userId && message.seq <= seq) this.delivery.set(message.id, advance(this.delivery.get(message.id), status));
    }
    this.events.changed('open');
  }

  /** The page of messages before the oldest one shown. */
  async loadOlder(): Promise<void> {
    const conversation = this.open();
    if (!conversation?.hasOlder) return;
    const oldest = Math.min(...conversation.messages.keys());
    const { messages, hasMore } = await this.client.history(conversation.id, { beforeSeq: oldest, limit: HISTORY_PAGE });
    for (const message of messages) if (!conversation.messages.has(message.seq)) conversation.messages.set(message.seq, message);
    conversation.hasOlder = hasMore;
    await this.#knowNames();
    this.events.changed('open');
  }

  async #loadHistory(conversation: Conversation): Promise<void> {
    const { messages, hasMore } = await this.client.history(conversation.id, { limit: HISTORY_PAGE });
    for (const message of messages) if (!conversation.messages.has(message.seq)) conversation.messages.set(message.seq, message);
    conversation.historyLoaded = true;
    conversation.hasOlder = hasMore;
    const ownLast = messages.filter(m => m.senderId === this.userId).pop();
    if (ownLast) this.#markUpTo(conversation.id, ownLast.seq, (await this.client.messageStatus(ownLast.id)).status);
    await this.#knowNames();
    this.events.changed('open');
  }

  /** The conversation list again (a new conversation's name, a group's details). One refresh at a time. */
  #refresh(): void {
    if (this.#refreshList) return;
    this.#refreshList = this.client.conversations().then(({ conversations }) => {
      for (const summary of conversations) this.#upsert(summary);
      return this.#knowNames();
    }).then(() => this.events.changed('list'), err => this.events.failed(err)).finally(() => {
      this.#refreshList = undefined;
    });
  }

  #upsert(summary: ConversationSummary): void {
    const conversation = this.conversations.get(summary.conversationId) ?? this.#add({ id: summary.conversationId, type: summary.type });
    Object.assign(conversation, {
      peerId: summary.peerId, groupId: summary.groupId, name: summary.name,
      lastSeq: Math.max(conversation.lastSeq, summary.lastSeq), readSeq: Math.max(conversation.readSeq, summary.readSeq),
    });
    conversation.unread = Math.max(0, conversation.lastSeq - conversation.readSeq);
    const last = summary.lastMessage as ChatMessage | undefined;
    if (last && (!conversation.lastMessage || last.seq >= conversation.lastMessage.seq)) conversation.lastMessage = last;
  }

  #add(fields: Partial<Conversation> & Pick<Conversation, 'id' | 'type'>): Conversation {
    const conversation: Conversation = { lastSeq: 0, readSeq: 0, unread: 0, messages: new Map(), historyLoaded: false, hasOlder: false, ...fields };
    this.conversations.set(conversation.id, conversation);
    return conversation;
  }

  #knowNames(): Promise<void> {
    const run = this.#naming.catch(() => undefined).then(() => this.#learnNames());
    this.#naming = run;
    return run;
  }

  /** Usernames of the peers and senders the page shows, 50 per request. */
  async #learnNames(): Promise<void> {
    const wanted = new Set<string>();
    for (const c of this.conversations.values()) {
      if (c.peerId) wanted.add(c.peerId);
      if (c.lastMessage) wanted.add(c.lastMessage.senderId);
      for (const m of c.messages.values()) wanted.add(m.senderId);
    }
    const missing = [ ...wanted ].filter(id => !this.usernames.has(id));
    for (let i = 0; i < missing.length; i += 50) {
      const { users } = await this.client.users(missing.slice(i, i + 50));
      for (const user of users) this.usernames.set(user.userId, user.username);
    }
    if (missing.length > 0) this.events.changed('list');
  }

  /** User ids for exact usernames; an unknown name is an error the person can read. */
  async #resolve(usernames: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const username of usernames) {
      const { users } = await this.client.findUsers(username, 1);
      const user = users.find(u => u.username === username);
      if (!user) throw new Error(`There is no user named "${username}".`);
      this.usernames.set(user.userId, user.username);
      ids.push(user.userId);
    }
    return ids;
  }
}

/** Every page of the conversation list, most recently active first. */
async function allConversations(client: ImClient<ChatTypes>): Promise<ConversationSummary[]> {
  const all: ConversationSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.conversations({ cursor });
    all.push(...page.conversations);
    cursor = page.next;
  } while (cursor !== undefined);
  return all;
}
