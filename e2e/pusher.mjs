// The real Pusher clients against a running engine (php-tests/PusherTest.php
// starts it): pusher-js 8 (its node build) in the browser's place, and the
// node `pusher` server library for channel auth and the HTTP API.
//
//   node e2e/pusher.mjs HOST:PORT APP_ID KEY SECRET
//
// Prints one JSON object: what the clients saw. The PHP test asserts on it.
import { createRequire } from 'node:module';

import { connected, deferred, plainWs, report, sleep, subscribed, wait } from './pusher-common.mjs';

const require = createRequire(import.meta.url);
const PusherClient = require('pusher-js');
const PusherServer = require('pusher');

const [address, appId, key, secret] = process.argv.slice(2);
const [host, port] = address.split(':');

const server = new PusherServer({ appId, key, secret, host, port, useTLS: false });
const seen = {};
const clients = [];

function client(user, { appKey = key, badAuth = false } = {}) {
    const c = new PusherClient(appKey, {
        ...plainWs(host, port),
        channelAuthorization: {
            customHandler: ({ socketId, channelName }, callback) => {
                const presence = channelName.startsWith('presence-')
                    ? { user_id: user, user_info: { name: `user ${user}` } }
                    : undefined;
                const auth = server.authorizeChannel(socketId, channelName, presence);
                if (badAuth) {
                    auth.auth = `${key}:${'0'.repeat(64)}`;
                }
                callback(null, auth);
            },
        },
    });
    clients.push(c);
    return c;
}

async function main() {
    // An unknown key: pusher-js is told 4001 and stops trying.
    const bad = client('0', { appKey: 'nope' });
    const badError = deferred('error of an unknown key');
    bad.connection.bind('error', (e) => badError.resolve(e));
    const e = await wait(badError);
    await sleep(300);
    // Refused (4000-4099): pusher-js disconnects and does not retry.
    seen.unknownKey = { code: e?.error?.data?.code ?? e?.data?.code ?? null, state: bad.connection.state };
    bad.disconnect();

    const a = client('1');
    const b = client('2');
    seen.socketIds = [await connected(a), await connected(b)];

    const [aOrders] = await subscribed(a, 'orders');
    const [bOrders] = await subscribed(b, 'orders');
    const [aChat] = await subscribed(a, 'private-chat');
    const [bChat] = await subscribed(b, 'private-chat');
    const [aRoom, aMembers] = await subscribed(a, 'presence-room');
    seen.presenceFirst = { count: aMembers.count, me: aMembers.me };
    const added = deferred('member_added');
    aRoom.bind('pusher:member_added', (m) => added.resolve(m));
    const [, bMembers] = await subscribed(b, 'presence-room');
    seen.presenceSecond = { count: bMembers.count, ids: Object.keys(bMembers.members).sort() };
    seen.memberAdded = await wait(added);

    // A refused signature.
    const refused = client('3', { badAuth: true });
    await connected(refused);
    const [, refusal] = await subscribed(refused, 'private-chat');
    seen.badSignature = refusal.error ?? null;
    refused.disconnect();

    // The node server library publishes; both clients get it, decoded.
    const gotA = deferred('event at a');
    const gotB = deferred('event at b');
    aOrders.bind('App\\Events\\OrderShipped', (d) => gotA.resolve(d));
    bOrders.bind('App\\Events\\OrderShipped', (d) => gotB.resolve(d));
    const res = await server.trigger('orders', 'App\\Events\\OrderShipped', { id: 7 });
    seen.triggerStatus = res.status;
    seen.triggered = [await wait(gotA), await wait(gotB)];

    // push's own door (POST /publish, as push_send() from PHP) reaches
    // the same channel, with its event name.
    const pushA = deferred('push publish at a');
    aOrders.bind('from-push', (d) => pushA.resolve(d));
    await fetch(`http://${address}/publish/orders?event=from-push`, { method: 'POST', body: '{"n":1}' });
    seen.fromPush = await wait(pushA);

    // toOthers(): the socket_id's connection does not get it.
    const others = { a: [], b: [] };
    aOrders.bind('others', (d) => others.a.push(d));
    bOrders.bind('others', (d) => others.b.push(d));
    await server.trigger('orders', 'others', 'x', { socket_id: seen.socketIds[0] });
    await sleep(300);
    seen.toOthers = others;

    // A whisper on a private channel: to b, not back to a.
    const whispers = { a: [], b: [] };
    aChat.bind('client-typing', (d) => whispers.a.push(d));
    bChat.bind('client-typing', (d) => whispers.b.push(d));
    seen.whisperSent = aChat.trigger('client-typing', { who: 'a' });
    await sleep(300);
    seen.whispers = whispers;

    // A client event on a public channel: refused, delivered to nobody.
    const publicError = deferred('error of a public client event');
    a.connection.bind('error', (err) => publicError.resolve(err));
    const publicSeen = [];
    bOrders.bind('client-nope', (d) => publicSeen.push(d));
    aOrders.trigger('client-nope', {});
    const pe = await wait(publicError);
    await sleep(200);
    seen.publicClientEvent = {
        error: pe?.error?.data?.message ?? pe?.data?.message ?? null,
        delivered: publicSeen.length,
    };

    // The HTTP API's queries, through the library.
    const channels = await server.get({ path: '/channels' });
    seen.channels = await channels.json();
    const users = await server.get({ path: '/channels/presence-room/users' });
    seen.users = await users.json();
    const info = await server.get({ path: '/channels/presence-room', params: { info: 'user_count,subscription_count' } });
    seen.channelInfo = await info.json();

    // b leaves: a sees member_removed.
    const removed = deferred('member_removed');
    aRoom.bind('pusher:member_removed', (m) => removed.resolve(m));
    b.disconnect();
    seen.memberRemoved = await wait(removed);
    seen.membersAfter = aRoom.members.count;
}

report(main, seen, clients);
