<?php

declare(strict_types=1);

namespace Push\Tests;

use PHPUnit\Framework\TestCase;

/**
 * One version, Cargo.toml's, everywhere (docs/packages.md): the module PHP
 * loaded, composer.json (PIE) and CHANGELOG.md's latest release; and the
 * Debian package's push.ini lists every setting with the default PHP has.
 */
final class VersionTest extends TestCase
{
    private static function cargoVersion(): string
    {
        $toml = (string) file_get_contents(dirname(__DIR__) . '/Cargo.toml');
        self::assertSame(1, preg_match('/^\[package\]\n(?:[^\[].*\n)*?version = "([^"]+)"/m', $toml, $m));
        return $m[1];
    }

    public function testPhpversionIsCargoTomlsVersion(): void
    {
        self::assertSame(self::cargoVersion(), phpversion('push'));
    }

    public function testComposerJsonHasCargoTomlsVersion(): void
    {
        $composer = json_decode((string) file_get_contents(dirname(__DIR__) . '/composer.json'), true, 512, JSON_THROW_ON_ERROR);
        self::assertSame(self::cargoVersion(), $composer['version']);
        self::assertSame('php-ext', $composer['type']);
        self::assertSame('push', $composer['php-ext']['extension-name']);
    }

    public function testChangelogsLatestReleaseIsCargoTomlsVersion(): void
    {
        $changelog = (string) file_get_contents(dirname(__DIR__) . '/CHANGELOG.md');
        self::assertSame(1, preg_match('/^## \[(\d[^\]]*)\]/m', $changelog, $m));
        self::assertSame(self::cargoVersion(), $m[1]);
    }

    public function testDebianIniListsEverySettingWithItsDefault(): void
    {
        $ini = (string) file_get_contents(dirname(__DIR__) . '/debian/push.ini');
        // the two the package sets for /run/push and php-fpm
        $set = ['push.socket' => '/run/push/push.sock', 'push.socket_group' => 'www-data'];
        foreach (ini_get_all('push') as $name => $entry) {
            $line = isset($set[$name]) ? "$name = {$set[$name]}" : rtrim(";$name = {$entry['global_value']}");
            self::assertMatchesRegularExpression('/^' . preg_quote($line, '/') . '$/m', $ini, $name);
        }
    }
}
