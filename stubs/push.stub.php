<?php

/**
 * push — realtime push for PHP (WebSocket, SSE, long-poll).
 *
 * Declarations of what the extension provides, for IDEs and static
 * analysis. php-tests/StubTest.php keeps this file identical to what
 * `php --re push` reports.
 *
 * @generate-class-entries
 */

namespace {
    /**
     * Publishes a message on a channel.
     *
     * @param string $channel 1–255 characters of A-Z a-z 0-9 _ . : @ / - = , ;
     * @param string $message the data (text or binary), at most push.max_message_size bytes
     * @param array{event?: ?string, binary?: bool, except?: ?string} $options `event`: an event name (SSE `event:`,
     *        the Pusher event), 1–200 characters; `binary`: send as binary (a WebSocket binary frame, base64 in
     *        SSE and JSON) even if the data is valid UTF-8; `except`: a Pusher socket id (digits.digits) whose
     *        connection does not get it (Laravel's toOthers())
     * @return string the new message's id (opaque; pass it as $lastId to resume after it)
     * @throws \ValueError on a bad channel name, option or an oversized message
     * @throws \Push\ConnectionException if no engine runs in this process and none answers on push.socket
     * @throws \Push\PushException if the engine refuses (for example push.max_channels reached)
     */
    function push_send(string $channel, string $message, array $options = []): string {}

    /**
     * Waits for the next message on a channel, without spinning.
     *
     * Without $lastId, a process's first call on a channel waits for the next
     * publication and later calls continue where the previous one stopped, so
     * a loop of calls misses nothing. With $lastId, returns the message after
     * it at once if it is in the history. If messages after the cursor left
     * the history, the message returned has $lost set — also when the loss
     * was found by an earlier call that timed out.
     *
     * @param float $timeout seconds to wait, 0 to 86400
     * @param string|null $lastId an id from push_send() or Push\Message::$id
     * @return \Push\Message|null the message, or null when the timeout passed
     * @throws \ValueError on a bad channel name, timeout or id
     * @throws \Push\ConnectionException if no engine runs in this process and none answers on push.socket
     */
    function push_get_message(string $channel, float $timeout = 30.0, ?string $lastId = null): ?\Push\Message {}

    /**
     * Runs the engine in this process until SIGINT or SIGTERM.
     *
     * @param array<string, string|int|float|bool> $options push.* settings without the prefix, over php.ini
     * @throws \ValueError on an unknown or invalid option
     * @throws \Push\PushException if the engine cannot start (address in use, invalid INI value …)
     */
    function push_serve(array $options = []): void {}

    /**
     * Runs the engine in the background of this process; the script goes on.
     *
     * Runtime threads' CPU counts towards max_execution_time.
     *
     * @param array<string, string|int|float|bool> $options push.* settings without the prefix, over php.ini
     * @throws \ValueError on an unknown or invalid option
     * @throws \Push\PushException if the engine cannot start or already runs here
     */
    function push_server_start(array $options = []): void {}

    /**
     * Stops the engine of this process, if it runs one (gracefully, within
     * push.shutdown_timeout).
     */
    function push_server_stop(): void {}

    /**
     * Figures about push in this process: its role, and the figures of the
     * engine it runs or reaches (zero, broker null, ready false when idle).
     * connections counts by transport: ws, sse, poll (long-polls waiting),
     * ipc (worker processes on push.socket).
     *
     * @return array{role: string, pid: int, listen: ?string, channels: int, subscribers: int, publications: int, history_messages: int, history_bytes: int, lagged: int, lost: int, collected: int, connections: array{ws: int, sse: int, poll: int, ipc: int}, deliveries: int, direct_writes: int, drops: int, slow_disconnects: int, queued_bytes: int, broker: ?string, broker_reconnects: int, ready: bool, memory_rss: int, threads: int}
     */
    function push_stats(): array {}

    /**
     * Mints a subscription token (an HS256 JSON Web Token signed with
     * push.secret) that lets a browser subscribe to private channels, in this
     * process (no engine needed). Pass it as ?token=, the push.auth_cookie
     * cookie, or an Authorization: Bearer header.
     *
     * @param list<string> $channels channel names, or prefixes ending in * (user.42.* grants user.42.inbox)
     * @param int $ttl seconds the token stays valid, 1 to 315360000
     * @param array{secret?: string, publish?: bool} $options `secret`: the key (at least 32 bytes), instead of
     *        the push.secret of the engine this process runs, or of php.ini; `publish`: the holder may also
     *        publish to these channels from a WebSocket
     * @return string the token: header.claims.signature, base64url
     * @throws \TypeError if $channels holds anything but strings
     * @throws \ValueError on an empty or invalid channel list, a bad $ttl or option, or a token longer than
     *         push.max_token_size
     * @throws \Push\PushException if no secret is set (push.secret, or $options['secret'])
     */
    function push_token(array $channels, int $ttl = 3600, array $options = []): string {}

    /**
     * What an app's /broadcasting/auth endpoint answers for a Pusher private
     * or presence channel (Laravel Echo, pusher-js), signed with
     * push.pusher_secret — the engine's this process runs, else php.ini's —
     * so a plain PHP app needs no Pusher library.
     *
     * @param string $socketId the socket_id the browser posted (digits.digits)
     * @param string $channel a private-… or presence-… channel
     * @param ?string $channelData for a presence channel: the JSON object the member is known by
     *        (a user_id, and user_info if any), sent byte for byte as it is signed
     * @return string the JSON to answer: {"auth":"key:signature"}, with "channel_data" for a presence channel,
     *         and "shared_secret" for a private-encrypted- channel (from push.pusher_encryption_master_key)
     * @throws \ValueError on a bad socket id, channel, or channel data
     * @throws \Push\PushException if push.pusher_app_id, push.pusher_key and push.pusher_secret are not set,
     *         or for a private-encrypted- channel without push.pusher_encryption_master_key
     */
    function push_pusher_auth(string $socketId, string $channel, ?string $channelData = null): string {}

    /**
     * The value of the Mercure discovery header a page sends
     * (`header('Link: ' . push_mercure_link())`): `<URL>; rel="mercure"`,
     * the URL being push.mercure_public_url, else http:// and push.listen
     * (the engine's this process runs, else php.ini's).
     *
     * @return string `<https://…/.well-known/mercure>; rel="mercure"`
     * @throws \Push\PushException if push.mercure_public_url is empty and push.listen is no address a
     *         browser can reach (0.0.0.0, [::] or port 0), or a setting is invalid
     */
    function push_mercure_link(): string {}

    /**
     * Publishes a Mercure update to the engine's hub (push.mercure = On), as
     * a POST to /.well-known/mercure would, without a token: FrankenPHP's
     * function, so symfony/mercure's FrankenPhpHub works on push. Registered
     * only where PHP has no mercure_publish() yet (under FrankenPHP, its own
     * is kept). In the engine's process the update goes straight to the hub,
     * elsewhere through push.socket.
     *
     * @param string|string[] $topics the update's topics (at least one)
     * @param string $data the data, UTF-8 (at most push.max_message_size bytes)
     * @param bool $private whether only subscribers granted one of its topics get it
     * @param ?string $id the update's id (null: the hub names it urn:push:…)
     * @param ?string $type the SSE event type
     * @param ?int $retry the SSE reconnection time, in milliseconds
     * @return string the update's id
     * @throws \TypeError if $topics is not a string or an array of strings
     * @throws \ValueError on no topic, a bad id or type, a negative retry, or data too large or not UTF-8
     * @throws \Push\PushException if the engine's hub is off (push.mercure)
     * @throws \Push\ConnectionException if no engine runs here and none answers on push.socket
     */
    function mercure_publish(string|array $topics, string $data = '', bool $private = false, ?string $id = null, ?string $type = null, ?int $retry = null): string {}

    /**
     * What an app's /broadcasting/user-auth endpoint answers for a Pusher
     * user signing in (pusher-js's signin(), Pusher's user authentication),
     * signed with push.pusher_secret — the engine's this process runs, else
     * php.ini's. The user then receives what is sent to #server-to-user-{id}.
     *
     * @param string $socketId the socket_id the browser posted (digits.digits)
     * @param array|string $userData the user: an array (encoded with json_encode()) or a JSON
     *        string (signed byte for byte), an object whose "id" is a string
     * @return string the JSON to answer: {"auth":"key:signature","user_data":"…"}
     * @throws \TypeError if $userData is neither an array nor a string
     * @throws \ValueError on a bad socket id, or user data that is not an object with a string id
     * @throws \Push\PushException if push.pusher_app_id, push.pusher_key and push.pusher_secret are not set
     */
    function push_pusher_signin(string $socketId, mixed $userData): string {}

    /**
     * The members of a Pusher presence channel, on every engine sharing the
     * broker (push.broker), from the engine this process runs or reaches
     * through push.socket.
     *
     * @param string $channel a presence-… channel
     * @return list<array{id: string, info: mixed}> each member's id, and its user_info decoded as
     *         json_decode($info, true) would (null if it has none); in no particular order
     * @throws \ValueError if $channel is not a valid presence-… channel name
     * @throws \Push\ConnectionException if no engine answers on push.socket
     * @throws \Push\PushException if the broker does not answer within push.io_timeout
     */
    function push_presence(string $channel): array {}
}

namespace Push {
    /**
     * A message received from a channel. Its string form is the data.
     */
    final class Message implements \Stringable
    {
        /** The id: pass it as $lastId to continue after this message. */
        public readonly string $id;
        /** The channel it was published on. */
        public readonly string $channel;
        /** The event name given by the publisher, or null. */
        public readonly ?string $event;
        /** The data (text or binary). */
        public readonly string $data;
        /** True if messages before this one were lost (they left the history first). */
        public readonly bool $lost;

        public function __construct(string $id, string $channel, ?string $event, string $data, bool $lost = false) {}

        /** @return string the data */
        public function __toString(): string {}
    }

    /** Base class of every push exception. */
    class PushException extends \RuntimeException {}

    /** No engine could be reached. */
    class ConnectionException extends PushException {}

    /** The engine did not answer in time. */
    class TimeoutException extends PushException {}
}
