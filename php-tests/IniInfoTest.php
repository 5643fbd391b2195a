<?php

declare(strict_types=1);

namespace Push\Tests;

final class IniInfoTest extends PushTestCase
{
    public function testEverySettingIsAnIniEntryWithItsDefault(): void
    {
        $ini = ini_get_all('push');
        $expected = [
            'push.listen' => '127.0.0.1:8080',
            'push.socket' => '/tmp/push.sock',
            'push.history' => '100',
            'push.history_ttl' => '300',
            'push.max_channels' => '1000000',
            'push.max_message_size' => '64K',
            'push.channel_buffer' => '256',
            'push.shutdown_timeout' => '5',
            'push.threads' => '2',
            'push.sweep_interval' => '5',
            'push.default_channel' => 'default',
            'push.client_publish' => 'Off',
            'push.allowed_origins' => '*',
            'push.publish_token' => '',
            'push.max_channels_per_connection' => '64',
            'push.max_queue_bytes' => '1M',
            'push.keepalive' => '15',
            'push.coalesce' => '0.01',
            'push.coalesce_subscribers' => '32',
            'push.ws_compression' => 'On',
            'push.ws_compression_min_size' => '256',
            'push.poll_timeout' => '30',
            'push.reconnect_delay' => '2',
            'push.socket_mode' => '0660',
            'push.socket_group' => '',
            'push.connect_timeout' => '1',
            'push.io_timeout' => '5',
            'push.max_cursors' => '1024',
            'push.broker' => 'memory',
            'push.redis_prefix' => 'push',
            'push.secret' => '',
            'push.private_channels' => '',
            'push.auth' => 'optional',
            'push.auth_cookie' => 'push_token',
            'push.token_leeway' => '5',
            'push.max_token_size' => '4K',
            'push.max_connections' => '10000',
            'push.max_connections_per_ip' => '256',
            'push.max_header_size' => '16K',
            'push.request_timeout' => '10',
            'push.client_publish_rate' => '20',
            'push.max_poll_waiters_per_ip' => '64',
            'push.max_workers' => '1024',
            'push.socket_idle_timeout' => '300',
            'push.pusher_app_id' => '',
            'push.pusher_key' => '',
            'push.pusher_secret' => '',
            'push.mercure' => 'Off',
            'push.mercure_publisher_key' => '',
            'push.mercure_subscriber_key' => '',
            'push.mercure_anonymous' => 'Off',
            'push.mercure_heartbeat' => '40',
            'push.mercure_history' => '1000',
            'push.mercure_history_ttl' => '3600',
            'push.mercure_public_url' => '',
            'push.mercure_channels' => 'Off',
            'push.mercure_subscriptions' => 'Off',
            'push.pusher_encryption_master_key' => '',
            'push.mercure_issuer' => '',
            'push.mercure_audience' => '',
            'push.mercure_cors_origins' => '',
            'push.presence_ttl' => '30',
            'push.pusher_webhook_url' => '',
            'push.pusher_webhook_queue' => '1000',
            'push.pusher_webhook_retries' => '3',
            'push.pusher_webhook_timeout' => '5',
        ];
        foreach ($expected as $name => $default) {
            self::assertArrayHasKey($name, $ini);
            self::assertSame($default, $ini[$name]['global_value'], $name);
            self::assertSame(INI_SYSTEM, $ini[$name]['access'], "$name is fixed at start-up");
        }
        self::assertCount(count($expected), $ini);
        self::assertFalse(ini_set('push.history', '5'), 'system settings cannot change at run time');
    }

    public function testIniValuesConfigureTheEngineAndParseLikePhp(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            push_server_start();
            echo push_stats()['listen'], ' ';
            try { push_send('c', str_repeat('x', 2049)); } catch (ValueError $e) { echo 'too-large '; }
            $id = push_send('c', str_repeat('x', 2048));
            foreach (range(1, 5) as $i) { push_send('c', "m$i"); }
            echo push_stats()['history_messages'];
            PHP, ['-d', 'push.listen=127.0.0.1:0', '-d', 'push.max_message_size=2K', '-d', 'push.history=0x3']);
        self::assertSame(0, $code, $err);
        self::assertMatchesRegularExpression('/^127\.0\.0\.1:\d+ too-large 3$/', $out);
    }

    public function testAnInvalidIniValueIsReportedWhenTheEngineStarts(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            try { push_server_start(); } catch (Push\PushException $e) { echo get_class($e), ': ', $e->getMessage(); }
            PHP, ['-d', 'push.history=lots']);
        self::assertSame(0, $code, $err);
        self::assertStringStartsWith('Push\PushException: push_server_start(): invalid value "lots" for push.history', $out);
    }

    public function testPhpinfoSection(): void
    {
        [$code, $out, $err] = self::command([PHP_BINARY, '--ri', 'push']);
        self::assertSame(0, $code, $err);
        self::assertStringContainsString('push support => enabled', $out);
        self::assertStringContainsString('version => ' . phpversion('push'), $out);
        self::assertStringContainsString('role => idle', $out);
        self::assertMatchesRegularExpression('/push\.history => 100 => 100/', $out);
        self::assertMatchesRegularExpression('/push\.listen => 127\.0\.0\.1:8080 => 127\.0\.0\.1:8080/', $out);
    }

    public function testPhpinfoMasksCredentials(): void
    {
        $secret = str_repeat('c0ffee', 6);
        [$code, $out, $err] = self::command([PHP_BINARY, '-d', "push.secret=$secret", '-d', 'push.publish_token=tok3n', '--ri', 'push']);
        self::assertSame(0, $code, $err);
        self::assertStringContainsString('push.secret => ******** => ********', $out);
        self::assertStringContainsString('push.publish_token => ******** => ********', $out);
        self::assertStringNotContainsString($secret, $out);
        self::assertStringNotContainsString('tok3n', $out);
        [$code, $out, $err] = self::command([PHP_BINARY, '--ri', 'push']);
        self::assertSame(0, $code, $err);
        self::assertStringContainsString('push.secret => no value => no value', $out, 'an empty one shows as empty');
    }

    public function testPhpinfoOfARunningEngine(): void
    {
        $addr = self::startEngine();
        push_send('x', 'y');
        ob_start();
        phpinfo(INFO_MODULES);
        $info = ob_get_clean();
        self::assertStringContainsString('role => engine', $info);
        self::assertStringContainsString("listening on => $addr", $info);
        self::assertStringContainsString('publications => 1', $info);
    }
}
