import assert from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listen } from 'egg-im-testkit';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startChatApp, type ChatApp } from './support/chatApp';

/** Debian's chromium (.ci/run installs it); another build can be named by CHROMIUM_PATH. */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** The flags keep Chromium off the network (background services, updates, QUIC) and work as root in CI. */
const CHROMIUM_ARGS = [ '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage' ];
/** `SCREENSHOTS=1 npm run test -w egg-im-example-chat` refreshes the pictures of the README and the docs. */
const SCREENSHOT_DIR = process.env.SCREENSHOTS === '1' ? path.resolve(__dirname, '../../../docs/images') : fs.mkdtempSync(path.join(os.tmpdir(), 'chat-shots-'));
const WAIT_MS = 15_000;
const DESKTOP = { width: 1200, height: 860 };
const PHONE = { width: 390, height: 780 };

/** The example app's web page in a real browser: two (then three) people chat through the page alone. */
describe('examples/chat in a browser', function() {
  this.timeout(120_000);
  let chat: ChatApp;
  let browser: Browser;
  let url: string;
  const pageErrors: string[] = [];

  before(async () => {
    assert(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
    chat = await startChatApp('chatweb');
    url = await listen(chat.app);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await chat?.close();
  });

  /** A person: a browser context of their own (cookies, storage), one page (tab) to start with. */
  async function person(viewport = DESKTOP): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
    context.setDefaultTimeout(WAIT_MS);
    return { context, page: await open(context) };
  }

  async function open(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', err => pageErrors.push(err.message));
    await page.goto(url);
    return page;
  }

  async function signIn(page: Page, username: string, button: 'Sign up' | 'Log in'): Promise<void> {
    await page.getByLabel('Username', { exact: true }).fill(username);
    await page.getByLabel('Password', { exact: true }).fill(`${username}-password`);
    await page.getByRole('button', { name: button }).click();
    await page.getByText(`Signed in as ${username}`).waitFor();
  }

  async function startDirect(page: Page, username: string): Promise<void> {
    await page.getByLabel('Find people by username').fill(username.slice(0, 3));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('button', { name: `Message ${username}` }).click();
    await page.getByRole('heading', { name: username, exact: true }).waitFor();
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.getByLabel('Message', { exact: true }).fill(text);
    await page.getByLabel('Message', { exact: true }).press('Enter');
    await bubble(page, text).waitFor();
  }

  function bubble(page: Page, text: string): Locator {
    return page.locator('#messages li.message', { has: page.getByText(text, { exact: true }) });
  }

  async function markOf(page: Page, text: string, status: 'sent' | 'delivered' | 'read'): Promise<void> {
    await bubble(page, text).locator(`.status[data-status="${status}"]`).waitFor();
  }

  function conversationButton(page: Page, title: string): Locator {
    return page.locator('#conversations button.conversation', { has: page.locator('.title', { hasText: title }) });
  }

  async function texts(page: Page): Promise<string[]> {
    return page.locator('#messages li.message .text').allTextContents();
  }

  it('sign-up and errors in words, finding each other, messages both ways with delivered and read marks, presence, custom types, a group of three, older pages, catch-up and two tabs', async () => {
    const startedAt = Date.now();
    const [ alice, bob, carol ] = await Promise.all([ person(), person(), person(PHONE) ]);
    await Promise.all([ signIn(alice.page, 'alice', 'Sign up'), signIn(bob.page, 'bob', 'Sign up'), signIn(carol.page, 'carol', 'Sign up') ]);

    // A server error is shown in words: the name is taken.
    const intruder = await open(carol.context);
    await intruder.getByLabel('Username', { exact: true }).fill('alice');
    await intruder.getByLabel('Password', { exact: true }).fill('whatever-password');
    await intruder.getByRole('button', { name: 'Sign up' }).click();
    await intruder.getByRole('alert').filter({ hasText: 'this username is already taken' }).waitFor();
    // Keyboard only: Tab to the password, Enter logs in; a wrong password is said as such.
    await intruder.getByLabel('Username', { exact: true }).focus();
    await intruder.keyboard.press('Tab');
    await intruder.keyboard.type('not-her-password');
    await intruder.keyboard.press('Enter');
    await intruder.getByRole('alert').filter({ hasText: 'wrong username or password' }).waitFor();
    await intruder.close();

    // Alice finds Bob and writes; Bob is online, so it is delivered, and read once he opens it.
    await startDirect(alice.page, 'bob');
    await say(alice.page, 'Hi Bob, it is Alice');
    await markOf(alice.page, 'Hi Bob, it is Alice', 'delivered');
    const fromAlice = conversationButton(bob.page, 'alice');
    await fromAlice.locator('.unread[aria-label="1 unread"]').waitFor();
    await fromAlice.locator('.preview', { hasText: 'alice: Hi Bob, it is Alice' }).waitFor();
    await bob.page.locator('#announce', { hasText: 'New message from alice: Hi Bob, it is Alice' }).waitFor({ state: 'attached' });
    await fromAlice.click();
    await bubble(bob.page, 'Hi Bob, it is Alice').waitFor();
    await markOf(alice.page, 'Hi Bob, it is Alice', 'read');
    await say(bob.page, 'Hello Alice!');
    await bubble(alice.page, 'Hello Alice!').waitFor();
    await markOf(bob.page, 'Hello Alice!', 'read');
    await alice.page.locator('#peer-presence', { hasText: 'online' }).waitFor();

    // The example's custom types, rendered as themselves on the other side.
    await alice.page.getByText('Send a location, a poll or a sticker').click();
    await alice.page.getByRole('button', { name: 'Send sticker: waving hand' }).click();
    await bob.page.getByRole('img', { name: 'sticker: waving hand' }).waitFor();
    await alice.page.getByRole('button', { name: 'Send location' }).click();
    await bob.page.locator('#messages .location').getByRole('link', { name: 'Café on the corner' }).waitFor();
    await alice.page.getByLabel('Question', { exact: true }).fill('Lunch at noon?');
    await alice.page.getByLabel('Options (one per line, 2 to 10)').fill('Yes\nNo\nLater');
    await alice.page.getByRole('button', { name: 'Send poll' }).click();
    const poll = bob.page.locator('#messages figure.poll', { hasText: 'Poll: Lunch at noon?' });
    await poll.waitFor();
    assert.deepStrictEqual(await poll.locator('li').allTextContents(), [ 'Yes', 'No', 'Later' ]);

    // A group of three: Alice creates it with Bob and Carol; everyone reads everyone.
    await alice.page.getByText('New group').click();
    await alice.page.getByLabel('Group name', { exact: true }).fill('Weekend trip');
    await alice.page.getByLabel('Members (usernames, separated by commas)').fill('bob, carol');
    await alice.page.getByRole('button', { name: 'Create group' }).click();
    await alice.page.getByRole('heading', { name: '👥 Weekend trip' }).waitFor();
    await say(alice.page, 'Who is in for Saturday?');
    await conversationButton(carol.page, 'Weekend trip').click();
    await bubble(carol.page, 'Who is in for Saturday?').waitFor();
    await say(carol.page, 'Me!');
    await bubble(alice.page, 'Me!').waitFor();
    await conversationButton(bob.page, 'Weekend trip').locator('.unread[aria-label="2 unread"]').waitFor();
    await conversationButton(bob.page, 'Weekend trip').click();
    assert.deepStrictEqual(await texts(bob.page), [ 'Who is in for Saturday?', 'Me!' ]);
    await markOf(alice.page, 'Who is in for Saturday?', 'read');
    await bob.page.getByText('Send a location, a poll or a sticker').click();
    await bob.page.getByRole('button', { name: 'Send sticker: party popper' }).click();
    await carol.page.getByRole('img', { name: 'sticker: party popper' }).waitFor();
    await alice.page.getByRole('img', { name: 'sticker: party popper' }).waitFor();
    // Carol's phone, for the README and the docs.
    await carol.page.getByRole('button', { name: 'Back' }).click();
    await carol.page.screenshot({ path: path.join(SCREENSHOT_DIR, 'chat-phone-list.png') });
    await conversationButton(carol.page, 'Weekend trip').click();
    await carol.page.screenshot({ path: path.join(SCREENSHOT_DIR, 'chat-phone.png') });

    // Bob closes his tab: Alice sees him last seen, writes twice; he logs in again later and catches up, in order.
    await conversationButton(alice.page, 'bob').click();
    await bob.page.close();
    await alice.page.locator('#peer-presence', { hasText: 'last seen' }).waitFor();
    await say(alice.page, 'Are you there?');
    await say(alice.page, 'Call me when you are back');
    await markOf(alice.page, 'Call me when you are back', 'sent');
    const back = await open(bob.context);
    await signIn(back, 'bob', 'Log in');
    await conversationButton(back, 'alice').locator('.unread[aria-label="2 unread"]').waitFor();
    await conversationButton(back, 'alice').click();
    await bubble(back, 'Call me when you are back').waitFor();
    const seen = await texts(back);
    assert.deepStrictEqual(seen.slice(-4), [ 'Hi Bob, it is Alice', 'Hello Alice!', 'Are you there?', 'Call me when you are back' ]);
    await markOf(alice.page, 'Call me when you are back', 'read');

    // A long conversation (62 more messages from Carol, over the API): the newest 50 first, older ones on request.
    // Two of them as a hostile sender may write them: markup as text, and coordinates as numeric strings.
    const login = await chat.app.httpRequest().post('/im/auth/login').send({ username: 'carol', password: 'carol-password' }).expect(200);
    const { conversations } = (await chat.app.httpRequest().get('/im/conversations').set('Authorization', `Bearer ${login.body.token}`).expect(200)).body;
    const trip = conversations.find((c: { name?: string }) => c.name === 'Weekend trip');
    const to = { type: 'group', id: trip.groupId };
    const markup = '<img src=x onerror="document.title=1">';
    const messages = [
      { to, type: 'location', content: { lat: '45.5', lng: '-73.6', name: 'String coords' }, clientMsgId: 'odd-location' },
      { to, type: 'text', content: { text: markup }, clientMsgId: 'markup' },
      ...Array.from({ length: 60 }, (_, i) => ({ to, type: 'text', content: { text: `Plan item ${i + 1}` }, clientMsgId: `plan-${i}` })),
    ];
    await chat.app.httpRequest().post('/im/messages/batch').set('Authorization', `Bearer ${login.body.token}`).send({ messages }).expect(200);
    await conversationButton(back, 'Weekend trip').click();
    await bubble(back, 'Plan item 60').waitFor();
    assert.equal(await bubble(back, 'Who is in for Saturday?').count(), 0, 'older than the newest 50');
    await back.getByRole('button', { name: 'Show older messages' }).click();
    await bubble(back, 'Who is in for Saturday?').waitFor();
    const all = await texts(back);
    assert.deepStrictEqual([ all[0], all[1], all[2], all.length ], [ 'Who is in for Saturday?', 'Me!', markup, 63 ]);
    assert.equal(await bubble(back, markup).locator('img').count(), 0, 'text is never markup');
    await back.locator('#messages .location').getByRole('link', { name: 'String coords' }).waitFor();
    assert.equal(await back.getByRole('button', { name: 'Show older messages' }).isVisible(), false);
    await conversationButton(back, 'alice').click();

    // Two tabs of Bob at once (two devices): what one sends, the other shows as his own.
    const secondTab = await open(bob.context);
    await signIn(secondTab, 'bob', 'Log in');
    await conversationButton(secondTab, 'alice').click();
    await say(secondTab, 'Back now, from my other tab');
    await bubble(back, 'Back now, from my other tab').locator('.sender', { hasText: 'You' }).waitFor();
    await bubble(alice.page, 'Back now, from my other tab').waitFor();
    await secondTab.getByRole('button', { name: 'Log out' }).click();
    await secondTab.getByRole('button', { name: 'Log in' }).waitFor();
    assert.equal(await secondTab.getByRole('alert').isVisible(), false, 'a deliberate logout is no error');

    // Pictures for the README and the docs, from this very run.
    await alice.page.getByText('Send a location, a poll or a sticker').click(); // folds the forms away again
    await alice.page.locator('#peer-presence', { hasText: 'online' }).waitFor();
    await alice.page.screenshot({ path: path.join(SCREENSHOT_DIR, 'chat-desktop.png') });

    assert.deepStrictEqual(pageErrors, [], 'no script errors on the page');
    console.log(`      (browser run: ${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
  });
});
