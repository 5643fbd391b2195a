<?php

declare(strict_types=1);

namespace Push\Tests;

use Push\ConnectionException;
use Push\PushException;
use Push\TimeoutException;

final class ExceptionsTest extends PushTestCase
{
    public function testHierarchy(): void
    {
        self::assertTrue(is_subclass_of(PushException::class, \RuntimeException::class));
        self::assertTrue(is_subclass_of(ConnectionException::class, PushException::class));
        self::assertTrue(is_subclass_of(TimeoutException::class, PushException::class));
    }

    public function testPhpCodeCanInstantiateExtendAndCatchThem(): void
    {
        $e = new ConnectionException('down', 3, new \LogicException('cause'));
        self::assertSame('down', $e->getMessage());
        self::assertSame(3, $e->getCode());
        self::assertInstanceOf(\LogicException::class, $e->getPrevious());
        $sub = new class ('x') extends TimeoutException {
        };
        try {
            throw $sub;
        } catch (\RuntimeException $caught) {
            self::assertSame($sub, $caught);
        }
    }

    public function testThrownExceptionsCarryTheCallSite(): void
    {
        try {
            push_send('x', 'y');
            self::fail('expected ConnectionException');
        } catch (ConnectionException $e) {
            self::assertSame(__FILE__, $e->getFile());
            self::assertSame(__LINE__ - 4, $e->getLine());
        }
    }
}
