// pusher-js 8 (its node build, which bundles tweetnacl: the same as
// pusher-js/with-encryption) and the node `pusher` server library against a
// running engine (php-tests/PusherTest.php starts it): end-to-end
// encrypted channels, cache channels, user sign-in, sendToUser and
// terminateUserConnections.
//
//   node e2e/pusher-users.mjs HOST:PORT APP_ID KEY SECRET MASTER_KEY_BASE64
//
// Prints one JSON object: what the clients saw. The PHP test asserts on it.
import { createRequire } from 'node:module';

import { connected, deferred, plainWs, report, sleep, subscribed, wait } from './pusher-common.mjs';

const require = createRequire(import.meta.url);
const PusherClient = require('pusher-js');
const PusherServer = require('pusher');

const [address, appId, key, secret, masterKey] = process.argv.slice(2);
const [host, port] = address.split(':');

const server = new PusherServer({
    appId, key, secret, host, port, useTLS: false, encryptionMasterKeyBase64: masterKey,
});
const seen = {};
const clients = [];

function client(user, { badSignin = false } = {}) {
    const c = new PusherClient(key, {
        ...plainWs(host, port),
        channelAuthorization: {
            customHandler: ({ socketId, channelName }, callback) =>
                callback(null, server.authorizeChannel(socketId, channelName)),
        },
        userAuthentication: {
            customHandler: ({ socketId }, callback) => {
                const answer = server.authenticateUser(socketId, { id: user, name: `user ${user}` });
                if (badSignin) {
                    answer.auth = `${key}:${'0'.repeat(64)}`;
                }
                callback(null, answer);
            },
        },
    });
    clients.push(c);
    return c;
}

/** The code of the next connection error, and the state a while after. */
async function refusal(c, what) {
    const error = deferred(what);
    c.connection.bind('error', (e) => error.resolve(e));
    const e = await wait(error);
    await sleep(500);
    return { code: e?.error?.data?.code ?? e?.data?.code ?? null, state: c.connection.state };
}

async function main() {
    // An encrypted channel: the server library encrypts, pusher-js decrypts.
    const a = client('a');
    const b = client('b');
    await connected(a);
    await connected(b);
    const [aSecret] = await subscribed(a, 'private-encrypted-room');
    const [bSecret] = await subscribed(b, 'private-encrypted-room');
    const gotA = deferred('encrypted at a');
    const gotB = deferred('encrypted at b');
    aSecret.bind('secret', (d) => gotA.resolve(d));
    bSecret.bind('secret', (d) => gotB.resolve(d));
    await server.trigger('private-encrypted-room', 'secret', { text: 'hello' });
    seen.decrypted = [await wait(gotA), await wait(gotB)];
    seen.sharedSecret = server.authorizeChannel('1234.1234', 'private-encrypted-room').shared_secret;
    // A client event on it (pusher-js itself refuses to send one; sent raw).
    const refused = deferred('error of an encrypted client event');
    a.connection.bind('error', (e) => refused.resolve(e));
    const relayed = [];
    b.connection.bind('message', (m) => { if (m.event === 'client-x') relayed.push(m); });
    a.send_event('client-x', { n: 1 }, 'private-encrypted-room');
    const re = await wait(refused);
    await sleep(200);
    seen.encryptedClientEvent = { error: re?.error?.data?.message ?? re?.data?.message ?? null, relayed: relayed.length };

    // Cache channels: the last event at once, else pusher:cache_miss.
    await server.trigger('cache-ticker', 'tick', { n: 1 });
    await server.trigger('cache-ticker', 'tick', { n: 2 });
    const cached = deferred('cached event');
    a.subscribe('cache-ticker').bind('tick', (d) => cached.resolve(d));
    seen.cached = await wait(cached);
    const miss = deferred('cache miss');
    a.subscribe('cache-empty').bind('pusher:cache_miss', () => miss.resolve(true));
    seen.cacheMiss = await wait(miss);

    // Sign-in, and sendToUser to one user only.
    const alice = client('alice');
    const bob = client('bob');
    const notes = { alice: [], aliceToo: [], bob: [] };
    const aliceToo = client('alice');
    for (const [name, c] of [['alice', alice], ['aliceToo', aliceToo], ['bob', bob]]) {
        c.signin();
        await connected(c);
        await wait({ name: `signin ${name}`, promise: c.user.signinDonePromise });
        c.user.bind('note', (d) => notes[name].push(d));
    }
    seen.userData = alice.user.user_data;
    await sleep(200);
    await server.sendToUser('alice', 'note', { n: 1 });
    await sleep(300);
    seen.notes = notes;

    // A bad sign-in signature: 4009, and pusher-js does not reconnect.
    const mallory = client('mallory', { badSignin: true });
    mallory.signin();
    seen.badSignin = await refusal(mallory, 'error of a bad signin');

    // terminateUserConnections: alice's two connections, not bob's.
    const ended = Promise.all([alice, aliceToo].map((c) => refusal(c, 'terminated')));
    const res = await server.terminateUserConnections('alice');
    seen.terminateStatus = res.status;
    seen.terminated = await ended;
    seen.bobAfter = bob.connection.state;
}

report(main, seen, clients);
