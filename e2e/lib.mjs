// What the Pusher scripts (echo.mjs, pusher_cluster.mjs) share: waiting,
// and a Laravel Echo 2 client over pusher-js 8's node build whose channel
// auth the node `pusher` library signs, as Laravel's /broadcasting/auth
// would.
import { createRequire } from 'node:module';
import Echo from 'laravel-echo';

const require = createRequire(import.meta.url);
const Pusher = require('pusher-js');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with test()'s first truthy value; rejects after `ms`. */
export function until(what, test, ms = 5000) {
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = () => {
            const v = test();
            if (v) {
                resolve(v);
            } else if (Date.now() - started > ms) {
                reject(new Error(`timed out: ${what}`));
            } else {
                setTimeout(poll, 10);
            }
        };
        poll();
    });
}

/**
 * Echo connected to the engine at `address` (HOST:PORT) with app `key`, as
 * user `user` on presence channels ({id, name: "user N"}), its auth signed
 * by `server` (a node `pusher` library instance).
 */
export function echoClient(address, key, user, server) {
    const [host, port] = address.split(':');
    return new Echo({
        broadcaster: 'pusher',
        Pusher,
        key,
        cluster: 'mt1',
        wsHost: host,
        wsPort: Number(port),
        forceTLS: false,
        enabledTransports: ['ws'],
        withoutInterceptors: true,
        authorizer: (channel) => ({
            authorize: (socketId, callback) => {
                const presence = channel.name.startsWith('presence-')
                    ? { user_id: user, user_info: { id: user, name: `user ${user}` } }
                    : undefined;
                callback(null, server.authorizeChannel(socketId, channel.name, presence));
            },
        }),
    });
}
