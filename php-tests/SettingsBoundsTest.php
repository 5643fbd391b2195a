<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * No setting can abort PHP: every number has a range, and a value out of
 * it is a ValueError naming the setting and the range.
 */
final class SettingsBoundsTest extends PushTestCase
{
    public function testAHugeChannelBufferIsRefusedNotAnAbort(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            foreach (['1000000000000', (string) PHP_INT_MAX] as $v) {
                try {
                    push_server_start(['listen' => '127.0.0.1:0', 'channel_buffer' => $v]);
                    var_export(push_get_message('c', 0));
                    push_server_stop();
                } catch (ValueError $e) {
                    echo $e->getMessage(), "\n";
                }
            }
            PHP);
        self::assertSame(0, $code, "$out\n$err");
        self::assertSame(
            'push_server_start(): Argument #1 ($options) invalid value "1000000000000" for push.channel_buffer: must be a whole number from 1 to 65536' . "\n"
            . 'push_server_start(): Argument #1 ($options) invalid value "' . PHP_INT_MAX . '" for push.channel_buffer: must be a whole number from 1 to 65536' . "\n",
            $out,
        );
    }

    /**
     * Each push.* entry through push_server_start() with 0, -1, PHP_INT_MAX
     * and, for a number, its maximum and one past it: a working engine or
     * a ValueError (a Push\PushException when the engine finds it at odds
     * with another setting or the system), never an abort, a Rust panic or
     * another Error.
     */
    public function testEverySettingWithExtremeValues(): void
    {
        [$code, $out, $err] = self::php(<<<'PHP'
            <?php
            $dir = sys_get_temp_dir() . '/push-bounds-' . getmypid();
            mkdir($dir);
            chdir($dir); // where a relative push.socket ("0", "-1") goes
            $try = function (string $name, string $v): ?string {
                $options = [$name => $v] + ['listen' => '127.0.0.1:0', 'socket' => sys_get_temp_dir() . '/push-bounds-' . getmypid() . '.sock'];
                try {
                    push_server_start($options);
                } catch (ValueError $e) {
                    echo "$name=$v: ValueError: {$e->getMessage()}\n";
                    return $e->getMessage();
                } catch (Throwable $e) {
                    echo "$name=$v: " . get_class($e) . ": {$e->getMessage()}\n";
                    return null;
                }
                try {
                    push_send('c', 'x');
                    push_get_message('c', 0);
                    push_get_message('c', 0, explode('-', push_send('c', 'y'))[0] . '-0');
                    echo "$name=$v: ok\n";
                } catch (Throwable $e) {
                    echo "$name=$v: " . get_class($e) . ": {$e->getMessage()}\n";
                }
                push_server_stop();
                return null;
            };
            foreach (array_keys(ini_get_all('push', false)) as $ini) {
                $name = substr($ini, strlen('push.'));
                $try($name, '0');
                $try($name, '-1');
                $refused = $try($name, (string) PHP_INT_MAX);
                if ($refused !== null && preg_match('/from (\S+) to (\S+)$/', $refused, $m)) {
                    echo "$name: range $m[1] $m[2]\n";
                    $try($name, (string) ($m[2] + 1));
                    $try($name, $m[2]);
                }
            }
            chdir('/');
            rmdir($dir); // fails (a warning) if a socket file was left behind
            PHP, [], 120.0);
        self::assertSame(0, $code, "the walk was cut short:\n$out\n$err");
        // An engine started with the most connections may say the open-files
        // limit is too low for them; nothing else goes to stderr.
        self::assertSame('', preg_replace('/^push: warning: the open-files limit is .*\n/m', '', $err));
        $lines = explode("\n", trim($out));
        $ranges = [];
        foreach ($lines as $line) {
            self::assertMatchesRegularExpression('/^(\w+)(=\S*: (ok|ValueError: .*|Push\\\\\w+Exception: .*)|: range \S+ \S+)$/', $line, 'no other outcome');
            if (preg_match('/^(\w+): range (\S+) (\S+)$/', $line, $m)) {
                $ranges[$m[1]] = [$m[2], $m[3]];
            } elseif (preg_match('/^(\w+)=(\S*): ValueError: (.*)$/', $line, $m)) {
                self::assertStringContainsString('for push.', $m[3], $line);
                if (!is_numeric($m[2]) || $m[2] !== ($ranges[$m[1]][1] ?? null)) {
                    // Only a setting's own maximum may be refused for
                    // another setting's sake (push.max_queue_bytes must
                    // hold a push.max_message_size message).
                    self::assertStringContainsString("for push.$m[1]:", $m[3], $line);
                }
            }
        }
        foreach (ini_get_all('push') as $ini => $entry) {
            $name = substr($ini, strlen('push.'));
            $default = (string) $entry['global_value'];
            if ($name !== 'socket_mode' && preg_match('/^[0-9.]+[KMG]?$/', $default)) {
                self::assertArrayHasKey($name, $ranges, "push.$name is a number: PHP_INT_MAX is refused with its range");
                $over = $ranges[$name][1] + 1;
                $refusal = preg_grep('/^' . preg_quote("$name=$over: ValueError: ", '/') . '/', $lines);
                self::assertCount(1, $refusal, "push.$name=$over is refused");
                self::assertMatchesRegularExpression(
                    '/invalid value "' . $over . '" for push\\.' . $name . ': must be (a whole number|a number of seconds) from '
                    . preg_quote("{$ranges[$name][0]} to {$ranges[$name][1]}", '/') . '$/',
                    (string) reset($refusal),
                );
            }
        }
        self::assertSame(['1', '65536'], $ranges['channel_buffer']);
    }
}
