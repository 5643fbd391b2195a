// Laravel Echo 2 (with pusher-js 8's node build) against a running engine
// (php-tests/PusherTest.php starts it). The node `pusher` library signs the
// channel auth as Laravel's /broadcasting/auth would, and publishes as
// Laravel's pusher broadcaster does.
//
//   node e2e/echo.mjs HOST:PORT APP_ID KEY SECRET
//
// Prints one JSON object: what Echo saw. The PHP test asserts on it.
import { createRequire } from 'node:module';
import { echoClient, report, sleep, until } from './common.mjs';

const require = createRequire(import.meta.url);
const PusherServer = require('pusher');

const [address, appId, key, secret] = process.argv.slice(2);
const [host, port] = address.split(':');
const server = new PusherServer({ appId, key, secret, host, port, useTLS: false });
const seen = {};
const echoes = [];

function echo(user) {
    const e = echoClient(address, key, user, server);
    echoes.push(e);
    return e;
}

async function main() {
    const one = echo(1);
    const two = echo(2);
    await until('both connected', () => one.socketId() && two.socketId());

    // A broadcast event, as Laravel names it (App\Events\OrderShipped).
    const shipped = { one: [], two: [] };
    const subscribed = { one: false, two: false };
    one.channel('orders').subscribed(() => { subscribed.one = true; })
        .listen('OrderShipped', (e) => shipped.one.push(e));
    two.channel('orders').subscribed(() => { subscribed.two = true; })
        .listen('.App\\Events\\OrderShipped', (e) => shipped.two.push(e));
    await until('orders subscribed', () => subscribed.one && subscribed.two);
    await server.trigger('orders', 'App\\Events\\OrderShipped', { order: { id: 1 } });
    // push's own door, as push_send('orders', $json, ['event' => …]) does.
    await fetch(`http://${address}/publish/orders?event=${encodeURIComponent('App\\Events\\OrderShipped')}`, {
        method: 'POST',
        body: JSON.stringify({ order: { id: 2 } }),
    });
    await until('two events each', () => shipped.one.length === 2 && shipped.two.length === 2);
    seen.shipped = shipped;

    // toOthers(): the X-Socket-ID connection is left out.
    await server.trigger('orders', 'App\\Events\\OrderShipped', { order: { id: 3 } }, { socket_id: one.socketId() });
    await until('toOthers at two', () => shipped.two.length === 3);
    await sleep(200);
    seen.afterToOthers = { one: shipped.one.length, two: shipped.two.length };

    // Presence: here(), joining(), leaving().
    const room = { here: null, joining: [], leaving: [] };
    one.join('room')
        .here((users) => { room.here = users; })
        .joining((u) => room.joining.push(u))
        .leaving((u) => room.leaving.push(u));
    await until('here', () => room.here);
    let twoHere = null;
    two.join('room').here((users) => { twoHere = users; });
    await until('joining', () => room.joining.length === 1 && twoHere);
    seen.room = { hereFirst: room.here, hereSecond: twoHere, joining: room.joining };

    // Whispers on a private channel: to the other, not back.
    const whispers = { one: [], two: [] };
    let ready = 0;
    one.private('chat').subscribed(() => ready++).listenForWhisper('typing', (e) => whispers.one.push(e));
    two.private('chat').subscribed(() => ready++).listenForWhisper('typing', (e) => whispers.two.push(e));
    await until('chat subscribed', () => ready === 2);
    one.private('chat').whisper('typing', { name: 'user 1' });
    await until('whisper at two', () => whispers.two.length === 1);
    await sleep(200);
    seen.whispers = whispers;

    // Two leaves the room.
    two.leave('room');
    await until('leaving', () => room.leaving.length === 1);
    seen.leaving = room.leaving;
}

report(main, seen, echoes);
