<?php

declare(strict_types=1);

namespace Push\Tests;

final class StubTest extends PushTestCase
{
    private const STUB = __DIR__ . '/../stubs/push.stub.php';

    public function testStubIsValidPhp(): void
    {
        [$code, $out, $err] = self::command([PHP_BINARY, '-n', '-l', self::STUB]);
        self::assertSame(0, $code, $out . $err);
    }

    public function testStubDeclaresExactlyWhatTheExtensionReports(): void
    {
        $script = __DIR__ . '/fixtures/signatures.php';
        [$code, $ext, $err] = self::command([PHP_BINARY, $script, 'ext']);
        self::assertSame(0, $code, $err);
        [$code, $stub, $err] = self::command([PHP_BINARY, '-n', $script, 'stub']);
        self::assertSame(0, $code, $err);
        $ext = json_decode($ext, true, 512, JSON_THROW_ON_ERROR);
        self::assertNotEmpty($ext['functions']);
        self::assertNotEmpty($ext['classes']);
        self::assertSame($ext, json_decode($stub, true, 512, JSON_THROW_ON_ERROR));
    }

    public function testFunctionsAreTyped(): void
    {
        $f = new \ReflectionFunction('push_get_message');
        self::assertSame('?Push\Message', (string) $f->getReturnType());
        self::assertSame(['string', 'float', '?string'], array_map(
            static fn (\ReflectionParameter $p) => (string) $p->getType(),
            $f->getParameters(),
        ));
    }
}
