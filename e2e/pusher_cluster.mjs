// Two engines sharing one Redis, with Laravel Echo 2 (pusher-js 8's node
// build) on each, and the webhooks they send taken by a local HTTP server
// and checked with the node `pusher` library's own validator
// (php-tests/PusherTest.php starts the engines and Redis).
//
//   node e2e/pusher_cluster.mjs HOST:PORT HOST:PORT APP_ID KEY SECRET HOOK_PORT
//
// Midway it prints {"step":"joined"} on a line of its own and waits for a
// line on its standard input (the PHP test calls push_presence() on both
// engines meanwhile, then kills engine two with SIGKILL). Then prints one
// JSON object: what Echo and the webhook server saw.
import { createRequire } from 'node:module';
import http from 'node:http';
import readline from 'node:readline';
import { echoClient, sleep, until } from './common.mjs';

const require = createRequire(import.meta.url);
const PusherServer = require('pusher');

const [one, two, appId, key, secret, hookPort] = process.argv.slice(2);
const library = (address) => {
    const [host, port] = address.split(':');
    return new PusherServer({ appId, key, secret, host, port, useTLS: false });
};
const servers = { one: library(one), two: library(two) };
const seen = {};
const echoes = [];
const requests = [];
const events = [];

// The webhook receiver: every request kept as received, and checked by
// pusher.webhook(request).isValid().
const hooks = http.createServer((req, res) => {
    let rawBody = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { rawBody += chunk; });
    req.on('end', () => {
        const webhook = servers.one.webhook({ headers: req.headers, rawBody });
        const valid = webhook.isValid();
        requests.push({
            key: req.headers['x-pusher-key'],
            signature: req.headers['x-pusher-signature'],
            contentType: req.headers['content-type'],
            body: rawBody,
            valid,
        });
        if (valid) {
            events.push(...webhook.getEvents());
        }
        res.writeHead(200);
        res.end('ok');
    });
});

function echo(address, user) {
    const e = echoClient(address, key, user, servers.one);
    echoes.push(e);
    return e;
}

const byId = (users) => [...users].sort((a, b) => a.id - b.id);
const count = (name, channel) => events.filter((e) => e.name === name && e.channel === channel).length;

async function main() {
    await new Promise((resolve) => hooks.listen(Number(hookPort), '127.0.0.1', resolve));
    const a = echo(one, 1);
    const b = echo(two, 2);
    await until('both connected', () => a.socketId() && b.socketId());

    // here() on each engine lists the members of both.
    const room = { hereA: null, hereB: null, joining: [], leaving: [] };
    a.join('room')
        .here((users) => { room.hereA = byId(users); })
        .joining((u) => room.joining.push(u))
        .leaving((u) => room.leaving.push(u));
    await until('a in the room', () => room.hereA);
    b.join('room').here((users) => { room.hereB = byId(users); });
    await until('b in the room', () => room.hereB);
    await until('a told of b', () => room.joining.length === 1);

    // An event published to engine two reaches a subscriber of engine one.
    const shipped = [];
    let subscribed = false;
    a.channel('orders').subscribed(() => { subscribed = true; })
        .listen('.App\\Events\\OrderShipped', (e) => shipped.push(e));
    await until('orders subscribed', () => subscribed);
    await servers.two.trigger('orders', 'App\\Events\\OrderShipped', { order: { id: 9 } });
    await until('the event across engines', () => shipped.length === 1);
    seen.acrossEngines = shipped;

    // The PHP test asks both engines for the members meanwhile.
    process.stdout.write(`${JSON.stringify({ step: 'joined' })}\n`);
    const lines = readline.createInterface({ input: process.stdin });
    await new Promise((resolve) => lines.once('line', resolve));
    lines.close();

    // Engine two, b's, was killed: a is told b left, once, when engine
    // two's entry in Redis expires (push.presence_ttl).
    const killed = Date.now();
    await until('a told b left', () => room.leaving.length === 1);
    seen.leftAfterMs = Date.now() - killed;
    a.leave('room');
    a.leaveChannel('orders');
    await until('both channels vacated', () => count('channel_vacated', 'presence-room') >= 1
        && count('channel_vacated', 'orders') >= 1);
    // Time for a duplicate to show, were there one.
    await sleep(700);
    seen.room = room;
    seen.requests = requests;
    seen.events = events;
    // The validator refuses a body that was changed.
    const first = requests[0];
    seen.tamperedValid = servers.one.webhook({
        headers: {
            'x-pusher-key': first.key,
            'x-pusher-signature': first.signature,
            'content-type': 'application/json',
        },
        rawBody: first.body.replace('"events"', '"events" '),
    }).isValid();
}

main()
    .catch((e) => { seen.failure = String(e && e.stack || e); })
    .finally(() => {
        for (const e of echoes) {
            e.disconnect();
        }
        hooks.close();
        process.stdout.write(`${JSON.stringify(seen)}\n`);
        process.exit(0);
    });
