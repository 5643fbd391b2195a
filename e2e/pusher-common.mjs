// What the Pusher scripts of e2e/ share: bounded waits, and pusher-js
// clients' connection and subscription as promises.

export const wait = (what, ms = 5000) =>
    new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
        what.promise.then((v) => { clearTimeout(t); resolve(v); });
    });

export const deferred = (name) => {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    return { name, promise, resolve, toString: () => name };
};

/** pusher-js's options for an engine at `host:port` over plain ws://. */
export const plainWs = (host, port) => ({
    cluster: 'mt1', // required by pusher-js, unused by push
    wsHost: host,
    wsPort: Number(port),
    forceTLS: false,
    enabledTransports: ['ws'],
});


export function subscribed(c, name) {
    const d = deferred(`subscribe ${name}`);
    const ch = c.subscribe(name);
    ch.bind('pusher:subscription_succeeded', (data) => d.resolve(data));
    ch.bind('pusher:subscription_error', (e) => d.resolve({ error: e }));
    return wait(d).then((data) => [ch, data]);
}

export function connected(c) {
    const d = deferred('connected');
    if (c.connection.state === 'connected') {
        d.resolve(c.connection.socket_id);
    }
    c.connection.bind('connected', () => d.resolve(c.connection.socket_id));
    return wait(d);
}

export { report, sleep } from './common.mjs';
