import { ImClient } from 'egg-im-client';
import { Chat, type Conversation } from './Chat';
import { STICKER_PACK, STICKERS } from './types';
import { byId, deliveryMark, describeError, el, preview, renderContent, shortTime } from './view';

/** The session of this tab (each tab is a device of its own; a reload keeps it, a closed tab logs in again). */
const SESSION_KEY = 'egg-im-chat.session';
const PRESENCE_OPEN_MS = 3_000;
const PRESENCE_LIST_MS = 15_000;

let chat: Chat | undefined;
let presenceTimer: ReturnType<typeof setInterval> | undefined;
let listPresenceTimer: ReturnType<typeof setInterval> | undefined;

function showError(err: unknown): void {
  byId('error-text').textContent = describeError(err);
  byId('error').hidden = false;
}

function clearError(): void {
  byId('error').hidden = true;
}

/** Runs what a person asked for; a failure is shown to them in words, never dropped. */
function act(button: HTMLElement | null, task: () => Promise<void>): void {
  clearError();
  if (button instanceof HTMLButtonElement) button.disabled = true;
  task().catch(showError).finally(() => {
    if (button instanceof HTMLButtonElement) button.disabled = false;
  });
}

function onSubmit(formId: string, task: (form: HTMLFormElement) => Promise<void>): void {
  const form = byId<HTMLFormElement>(formId);
  form.addEventListener('submit', event => {
    event.preventDefault();
    act((event as SubmitEvent).submitter ?? form.querySelector('button'), () => task(form));
  });
}

function input(id: string): HTMLInputElement {
  return byId<HTMLInputElement>(id);
}

// ---- signing in ----

async function signIn(action: string): Promise<void> {
  const username = input('auth-username').value.trim();
  const password = input('auth-password').value;
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username)) throw new Error('A username is 3 to 32 letters, digits, "_", "." or "-".');
  if (action === 'register') {
    if (password.length < 8) throw new Error('A password has at least 8 characters.');
    await ImClient.register({ baseUrl: location.origin, username, password });
  }
  const probe = await ImClient.login({ baseUrl: location.origin, username, password });
  const session = { token: probe.token, userId: probe.userId, username };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  input('auth-password').value = '';
  await enter(session);
}

async function enter(session: { token: string; userId: string; username: string }): Promise<void> {
  chat = await Chat.start(session, {
    changed: what => render(what),
    arrived: (message, from, group) => {
      byId('announce').textContent = `New message from ${from}${group ? ` in ${group}` : ''}: ${preview(message)}`;
    },
    failed: showError,
    ended: reason => {
      leave();
      showError(new Error(reason));
    },
  });
  byId('auth-view').hidden = true;
  byId('chat-view').hidden = false;
  byId('me').textContent = `Signed in as ${session.username}`;
  render('list');
  render('open');
  render('connection');
  listPresenceTimer = setInterval(() => refreshListPresence(), PRESENCE_LIST_MS);
  presenceTimer = setInterval(() => refreshOpenPresence(), PRESENCE_OPEN_MS);
  refreshListPresence();
  input('search-input').focus();
}

function leave(): void {
  chat?.client.close();
  chat = undefined;
  sessionStorage.removeItem(SESSION_KEY);
  clearInterval(presenceTimer);
  clearInterval(listPresenceTimer);
  byId('chat-view').hidden = true;
  byId('auth-view').hidden = false;
  input('auth-username').focus();
}

/** The open direct conversation's peer, more often than the list's. */
function refreshOpenPresence(): void {
  const peerId = chat?.open()?.peerId;
  if (peerId && !chat!.openId!.startsWith('draft:')) chat!.refreshPresence([ peerId ]).catch(() => undefined); // the next round retries
}

function refreshListPresence(): void {
  if (!chat) return;
  const peers = chat.sorted().filter(c => c.peerId && !c.id.startsWith('draft:')).slice(0, 20).map(c => c.peerId!);
  if (peers.length > 0) chat.refreshPresence(peers).catch(() => undefined); // a background refresh: the next one retries
}

// ---- drawing ----

function render(what: 'list' | 'open' | 'presence' | 'connection'): void {
  if (!chat) return;
  if (what === 'connection') {
    byId('connection').textContent = chat.connected ? 'Connected' : 'Reconnecting…';
    byId('connection').className = chat.connected ? 'online' : 'offline';
    return;
  }
  renderList(chat);
  if (what !== 'list') renderOpen(chat);
}

function presenceText(chat: Chat, userId: string): string {
  const presence = chat.presence.get(userId);
  if (!presence) return '';
  if (presence.online) return 'online';
  return presence.lastSeenAt ? `last seen ${shortTime(presence.lastSeenAt)}` : 'offline';
}

function renderList(chat: Chat): void {
  const list = byId('conversations');
  const items = chat.sorted().filter(c => !c.id.startsWith('draft:')).map(conversation => {
    const title = chat.title(conversation);
    const last = conversation.lastMessage;
    const who = last ? (last.senderId === chat.userId ? 'You' : chat.nameOf(last.senderId)) : '';
    const presence = conversation.peerId ? chat.presence.get(conversation.peerId) : undefined;
    const button = el('button', { type: 'button', class: 'conversation', 'data-id': conversation.id, 'aria-current': conversation.id === chat.openId ? 'true' : undefined },
      el('span', { class: 'title' }, conversation.type === 'group' ? `👥 ${title}` : title),
      presence ? el('span', { class: `dot ${presence.online ? 'online' : 'offline'}`, title: presenceText(chat, conversation.peerId!) }, presence.online ? ' · online' : '') : null,
      el('span', { class: 'preview' }, last ? `${who}: ${preview(last)}` : 'No messages yet'),
      conversation.unread > 0 ? el('span', { class: 'unread', 'aria-label': `${conversation.unread} unread` }, String(conversation.unread)) : null);
    button.addEventListener('click', () => act(null, async () => {
      await chat.select(conversation.id);
      input('composer-text').focus(); // on a phone the list is hidden now: the focus goes where one writes
    }));
    return el('li', {}, button);
  });
  list.replaceChildren(...items);
  byId('no-conversations').hidden = items.length > 0;
}

function renderOpen(chat: Chat): void {
  const conversation = chat.open();
  byId('conversation').hidden = !conversation;
  byId('empty-state').hidden = !!conversation;
  byId('chat-view').classList.toggle('reading', !!conversation);
  if (!conversation) return;
  byId('conversation-title').textContent = conversation.type === 'group' ? `👥 ${chat.title(conversation)}` : chat.title(conversation);
  byId('peer-presence').textContent = conversation.peerId ? presenceText(chat, conversation.peerId) : '';
  byId('add-member-form').hidden = conversation.type !== 'group';
  byId('older').hidden = !conversation.hasOlder;
  renderMessages(chat, conversation);
}

function renderMessages(chat: Chat, conversation: Conversation): void {
  const list = byId('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...chat.messagesOf(conversation).map(message => {
    const mine = message.senderId === chat.userId;
    return el('li', { class: `message ${mine ? 'mine' : 'theirs'}`, 'data-seq': String(message.seq), 'data-type': message.type },
      el('span', { class: 'sender' }, mine ? 'You' : chat.nameOf(message.senderId)),
      renderContent(message),
      el('span', { class: 'meta' },
        el('time', { datetime: message.createdAt }, shortTime(message.createdAt)),
        mine ? deliveryMark(chat.deliveryOf(message)) : null));
  }));
  if (atBottom || list.dataset.conversation !== conversation.id) list.scrollTop = list.scrollHeight;
  list.dataset.conversation = conversation.id;
}

// ---- what a person does ----

function wire(): void {
  byId('error-dismiss').addEventListener('click', clearError);

  // Enter in a field logs in; each button says what it does.
  onSubmit('auth-form', () => signIn('login'));
  for (const id of [ 'login-button', 'register-button' ]) {
    byId(id).addEventListener('click', event => {
      event.preventDefault();
      act(event.currentTarget as HTMLElement, () => signIn((event.currentTarget as HTMLButtonElement).value));
    });
  }

  byId('logout').addEventListener('click', event => act(event.currentTarget as HTMLElement, async () => {
    try {
      await chat?.logout();
    } finally {
      leave();
    }
  }));

  onSubmit('search-form', async () => {
    const query = input('search-input').value.trim();
    const users = await chat!.search(query);
    const results = byId('search-results');
    results.replaceChildren(...users.map(user => {
      const button = el('button', { type: 'button' }, `Message ${user.username}`);
      button.addEventListener('click', () => act(button, async () => {
        results.replaceChildren();
        input('search-input').value = '';
        await chat!.openDirect(user.userId);
        input('composer-text').focus();
      }));
      return el('li', {}, button);
    }));
    if (users.length === 0) results.replaceChildren(el('li', { class: 'none' }, `Nobody's username starts with "${query}".`));
  });

  onSubmit('group-form', async () => {
    const members = input('group-members').value.split(',').map(name => name.trim()).filter(Boolean);
    await chat!.createGroup(input('group-name').value.trim(), members);
    input('group-name').value = '';
    input('group-members').value = '';
    byId<HTMLDetailsElement>('new-group').open = false;
    input('composer-text').focus();
  });

  onSubmit('add-member-form', async () => {
    const name = await chat!.addMember(input('add-member-input').value.trim());
    input('add-member-input').value = '';
    byId('peer-presence').textContent = `${name} was added`;
  });

  onSubmit('composer', async () => {
    const text = input('composer-text').value;
    if (text.trim() === '') return;
    input('composer-text').value = '';
    try {
      await chat!.send('text', { text });
    } catch (err) {
      input('composer-text').value = text; // kept, to send again
      throw err;
    }
    input('composer-text').focus();
  });

  onSubmit('location-form', async () => {
    const lat = Number(input('location-lat').value);
    const lng = Number(input('location-lng').value);
    const name = input('location-name').value.trim();
    await chat!.send('location', name ? { lat, lng, name } : { lat, lng });
  });

  onSubmit('poll-form', async () => {
    const lines = byId<HTMLTextAreaElement>('poll-options').value.split('\n').map(line => line.trim()).filter(Boolean);
    await chat!.send('poll', { question: input('poll-question').value.trim(), options: lines.map((text, i) => ({ id: String(i + 1), text })) });
    input('poll-question').value = '';
    byId<HTMLTextAreaElement>('poll-options').value = '';
  });

  const stickers = byId('stickers');
  for (const [ stickerId, sticker ] of Object.entries(STICKERS)) {
    const button = el('button', { type: 'button', class: 'sticker-button', 'aria-label': `Send sticker: ${sticker.label}`, title: sticker.label }, sticker.emoji);
    button.addEventListener('click', () => act(button, () => chat!.send('sticker', { packId: STICKER_PACK, stickerId })));
    stickers.append(button);
  }

  byId('back').addEventListener('click', () => {
    chat?.close();
    input('search-input').focus();
  });
  byId('older').addEventListener('click', event => act(event.currentTarget as HTMLElement, () => chat!.loadOlder()));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') chat?.markRead().catch(showError);
  });
}

async function boot(): Promise<void> {
  wire();
  const saved = sessionStorage.getItem(SESSION_KEY);
  if (saved) {
    try {
      await enter(JSON.parse(saved));
      return;
    } catch (err) {
      sessionStorage.removeItem(SESSION_KEY);
      showError(err);
    }
  }
  input('auth-username').focus();
}

boot().catch(showError);
