// Laravel Echo 2 (with pusher-js 8's node build) as a Laravel app's pages
// use it, against a running engine (php-tests/LaravelTest.php starts it,
// the /broadcasting/auth endpoint, and the PHP that broadcasts).
//
//   node e2e/laravel.mjs HOST:PORT KEY AUTH_URL
//
// Users 1 and 2 listen on `orders` (public), `private-orders.1` and
// `presence-room.1`, authorised by AUTH_URL (Laravel's /broadcasting/auth,
// the user in an X-User header); user 3 is refused `private-orders.1`.
// Prints one line `{"ready": {one, two}}` (their socket ids) once every
// subscription is settled, then waits for a line on stdin — `{"one": N,
// "two": M}`, the events each must get — and prints what each got (and N
// or M more arrive if the exclusion fails: it waits 300 ms more).
import { createInterface } from 'node:readline';
import Echo from 'laravel-echo';
import { echoOptions, report, sleep, until } from './common.mjs';

const [address, key, authEndpoint] = process.argv.slice(2);
const seen = {};
const echoes = [];

function echo(user) {
    const e = new Echo(echoOptions(address, key, {
        authEndpoint,
        auth: { headers: { 'X-User': String(user) } },
    }));
    echoes.push(e);
    return e;
}

// Every event a user's page gets: [channel, event, payload].
function listen(e, got, ready) {
    const push = (channel, name) => (payload) => got.push([channel, name, payload]);
    e.channel('orders')
        .subscribed(() => ready.push('orders'))
        .listen('OrderShipped', push('orders', 'OrderShipped'));
    e.private('orders.1')
        .subscribed(() => ready.push('private'))
        .listen('OrderShipped', push('private-orders.1', 'OrderShipped'))
        .listen('.order.status', push('private-orders.1', 'order.status'));
    e.join('room.1')
        .here((users) => ready.push(['here', users]))
        .listen('OrderShipped', push('presence-room.1', 'OrderShipped'));
}

async function main() {
    const one = echo(1);
    const two = echo(2);
    const three = echo(3);
    await until('connected', () => one.socketId() && two.socketId() && three.socketId());
    const got = { one: [], two: [] };
    const ready = { one: [], two: [] };
    listen(one, got.one, ready.one);
    await until('one subscribed', () => ready.one.length === 3);
    listen(two, got.two, ready.two);
    await until('two subscribed', () => ready.two.length === 3);
    seen.here = ready.two.find((r) => Array.isArray(r) && r[0] === 'here')[1];

    // User 3 is not let in: Laravel's 403, the subscription fails.
    let refused = null;
    three.private('orders.1').error((e) => { refused = e; });
    await until('three refused', () => refused);
    seen.refused = { type: refused.type, status: refused.status };

    console.log(JSON.stringify({ ready: { one: one.socketId(), two: two.socketId() } }));
    const lines = createInterface({ input: process.stdin });
    const want = JSON.parse(await new Promise((resolve) => lines.once('line', resolve)));
    await until(`events (have ${JSON.stringify(got)})`, () => got.one.length >= want.one && got.two.length >= want.two);
    await sleep(300);
    seen.got = got;
}

report(main, seen, echoes);
