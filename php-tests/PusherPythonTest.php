<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * PyPI's `pusher` server library (3.3.4, in e2e/.venv: scripts/test.sh
 * makes it) against bin/push-server with the Pusher protocol on
 * (e2e/pusher-python.py): trigger, trigger_batch, channels_info, channel_info,
 * users_info, authenticate and authenticate_user, send_to_user,
 * terminate_user_connections, and the error statuses it raises.
 */
final class PusherPythonTest extends PushTestCase
{
    private const PYTHON = __DIR__ . '/../e2e/.venv/bin/python';

    public function testThePythonServerLibrary(): void
    {
        if (!is_executable(self::PYTHON)) {
            self::fail('run scripts/test.sh first (or: python3 -m venv e2e/.venv && e2e/.venv/bin/pip install -r e2e/requirements.txt)');
        }
        [, , $address] = $this->daemon(null, ['--pusher_app_id=4242', '--pusher_key=app-key', '--pusher_secret=app-secret-0123']);
        $seen = $this->clientScript([self::PYTHON, 'e2e/pusher-python.py', $address, '4242', 'app-key', 'app-secret-0123']);

        self::assertSame([], $seen['trigger']);
        self::assertSame(['shipped', 'orders', ['id' => 7]], $seen['triggered']);
        self::assertSame([], $seen['triggerBatch']);
        self::assertSame(['first', 'second'], $seen['batched']);
        self::assertSame(['channels' => ['presence-room' => ['user_count' => 1]]], $seen['channelsInfo']);
        self::assertSame(['occupied' => true, 'subscription_count' => 1, 'user_count' => 1], $seen['channelInfo']);
        self::assertSame(['users' => [['id' => '1']]], $seen['usersInfo']);
        self::assertSame('pusher:signin_success', $seen['signin']);
        self::assertSame([], $seen['sendToUser']);
        self::assertSame(['note', '#server-to-user-alice', ['n' => 1]], $seen['toUser']);
        self::assertSame([], $seen['terminate']);
        self::assertSame(['close' => 4009], $seen['terminated']);
        self::assertSame(['error' => 'info=user_count needs filter_by_prefix=presence-'], $seen['badRequest']);
        self::assertSame(['error' => 'invalid auth_signature'], $seen['badAuth']);
    }
}
