// Shared by the e2e scripts: bounded waiting, Echo's options for an
// engine, and how a script reports (one JSON object on stdout, with
// `failure` when it failed; its clients disconnected either way).
import { createRequire } from 'node:module';
import Echo from 'laravel-echo';

const require = createRequire(import.meta.url);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `test` every 10 ms until it holds or `ms` pass (then fails,
// naming what it waited for).
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

// Laravel Echo's options for the engine at HOST:PORT with app `key`, over
// pusher-js's node build, WebSocket only; `more` adds the auth options.
export function echoOptions(address, key, more) {
    const [host, port] = address.split(':');
    return {
        broadcaster: 'pusher',
        Pusher: require('pusher-js'),
        key,
        cluster: 'mt1',
        wsHost: host,
        wsPort: Number(port),
        forceTLS: false,
        enabledTransports: ['ws'],
        ...more,
    };
}

// Runs `main`, prints `seen` (with `failure` and exit code 1 if it threw),
// disconnects `clients` and exits.
export function report(main, seen, clients) {
    main()
        .then(() => console.log(JSON.stringify(seen)))
        .catch((err) => {
            console.log(JSON.stringify({ ...seen, failure: String(err?.stack ?? err) }));
            process.exitCode = 1;
        })
        .finally(() => {
            for (const c of clients) {
                c.disconnect();
            }
            setTimeout(() => process.exit(), 100);
        });
}

/**
 * Echo connected to the engine at `address` (HOST:PORT) with app `key`, as
 * user `user` on presence channels ({id, name: "user N"}), its auth signed
 * by `server` (a node `pusher` library instance).
 */
export function echoClient(address, key, user, server) {
    return new Echo(echoOptions(address, key, {
        withoutInterceptors: true,
        authorizer: (channel) => ({
            authorize: (socketId, callback) => {
                const presence = channel.name.startsWith('presence-')
                    ? { user_id: user, user_info: { id: user, name: `user ${user}` } }
                    : undefined;
                callback(null, server.authorizeChannel(socketId, channel.name, presence));
            },
        }),
    }));
}
