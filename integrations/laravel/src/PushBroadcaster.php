<?php

declare(strict_types=1);

namespace Push\Laravel;

use Illuminate\Broadcasting\BroadcastException;
use Illuminate\Broadcasting\Broadcasters\Broadcaster;
use Illuminate\Broadcasting\Broadcasters\UsePusherChannelConventions;
use Push\PushException;
use Symfony\Component\HttpKernel\Exception\AccessDeniedHttpException;
use Symfony\Component\HttpKernel\Exception\BadRequestHttpException;

/**
 * Laravel's `push` broadcaster: what Laravel's `pusher` broadcaster does,
 * with no Pusher library and no HTTP round trip. broadcast() publishes
 * with push_send() (in the engine's process, else over push.socket), and
 * /broadcasting/auth answers with push_pusher_auth(), signed with
 * push.pusher_secret. Browsers keep Laravel Echo with the `pusher` (or
 * `reverb`) broadcaster, pointed at push.listen.
 */
class PushBroadcaster extends Broadcaster
{
    use UsePusherChannelConventions;

    /**
     * @param array<string, mixed> $config the connection's entry of config/broadcasting.php
     */
    public function __construct(private array $config = [])
    {
    }

    /**
     * Authenticates a /broadcasting/auth request, as Laravel's pusher
     * broadcaster does: a private or presence channel needs a user, and a
     * channel route of routes/channels.php that lets the user in.
     *
     * @param \Illuminate\Http\Request $request
     * @return mixed
     *
     * @throws AccessDeniedHttpException (403) when the user may not
     */
    public function auth($request)
    {
        $channelName = $this->normalizeChannelName((string) $request->channel_name);

        if (empty($request->channel_name)
            || ($this->isGuardedChannel($request->channel_name)
                && !$this->retrieveUser($request, $channelName))) {
            throw new AccessDeniedHttpException();
        }

        return parent::verifyUserCanAccessChannel($request, $channelName);
    }

    /**
     * The answer pusher-js expects: `['auth' => 'key:signature']`, with
     * `channel_data` (`{"user_id":"…","user_info":…}`, as pusher-php-server
     * 7 writes it) for a presence channel, whose `user_info` is what the
     * channel route returned.
     *
     * @param \Illuminate\Http\Request $request
     * @param mixed $result what the channel route returned
     * @return array{auth: string, channel_data?: string}
     *
     * @throws BadRequestHttpException (400) on a socket id or channel name
     *         pusher-js would not send
     */
    public function validAuthenticationResponse($request, $result)
    {
        $channel = (string) $request->channel_name;
        $socket = (string) $request->socket_id;
        $channelData = null;
        if (!str_starts_with($channel, 'private')) {
            $user = $this->retrieveUser($request, $this->normalizeChannelName($channel));
            $id = method_exists($user, 'getAuthIdentifierForBroadcasting')
                ? $user->getAuthIdentifierForBroadcasting()
                : $user->getAuthIdentifier();
            $data = ['user_id' => (string) $id];
            if ($result) {
                $data['user_info'] = $result;
            }
            $channelData = json_encode($data, JSON_THROW_ON_ERROR);
        }
        try {
            $answer = push_pusher_auth($socket, $channel, $channelData);
        } catch (\ValueError $e) {
            throw new BadRequestHttpException($e->getMessage(), $e);
        }
        return json_decode($answer, true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * Publishes the event on each channel with push_send(): the event name
     * as Echo listens for it, the payload JSON-encoded as Laravel's pusher
     * broadcaster sends it, and the payload's `socket` (toOthers(), the
     * request's X-Socket-ID) as `except`, so that connection does not get it.
     *
     * @param array<int, mixed> $channels
     * @param string $event
     * @param array<string, mixed> $payload
     *
     * @throws BroadcastException when push refuses or no engine answers
     */
    public function broadcast(array $channels, $event, array $payload = [])
    {
        $socket = $payload['socket'] ?? null;
        unset($payload['socket']);
        $options = ['event' => (string) $event];
        if ($socket !== null && $socket !== '') {
            $options['except'] = (string) $socket;
        }
        try {
            $data = json_encode($payload, JSON_THROW_ON_ERROR);
            foreach ($this->formatChannels($channels) as $channel) {
                push_send($channel, $data, $options);
            }
        } catch (\ValueError | \JsonException | PushException $e) {
            throw new BroadcastException(sprintf('push error: %s.', $e->getMessage()), 0, $e);
        }
    }

    /**
     * The connection's settings from config/broadcasting.php.
     *
     * @return array<string, mixed>
     */
    public function config(): array
    {
        return $this->config;
    }
}
