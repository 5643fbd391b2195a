<?php

declare(strict_types=1);

namespace Push\Tests;

use Push\Message;

final class SendReceiveTest extends PushTestCase
{
    public function testSendReturnsIncreasingOpaqueIds(): void
    {
        self::startEngine();
        $a = push_send('news', 'a');
        $b = push_send('news', 'b');
        self::assertMatchesRegularExpression('/^[0-9a-f]+-\d+$/', $a);
        [$ea, $oa] = explode('-', $a);
        [$eb, $ob] = explode('-', $b);
        self::assertSame($ea, $eb, 'same channel incarnation');
        self::assertSame((int) $oa + 1, (int) $ob);
        self::assertNotSame(explode('-', push_send('other', 'x'))[0], $ea, 'each channel has its own epoch');
    }

    public function testLastIdReturnsTheNextMessageAtOnce(): void
    {
        self::startEngine();
        $first = push_send('news', 'a');
        push_send('news', 'b', ['event' => 'update']);
        $t = microtime(true);
        $m = push_get_message('news', 1, $first);
        self::assertLessThan(0.5, microtime(true) - $t, 'answered from history, not after the timeout');
        self::assertInstanceOf(Message::class, $m);
        self::assertSame('b', $m->data);
        self::assertSame('news', $m->channel);
        self::assertSame('update', $m->event);
        self::assertFalse($m->lost);
        self::assertSame('b', (string) $m);
        self::assertSame("data: b\n\n", "data: $m\n\n", 'tutorial code works unchanged');
    }

    public function testFirstCallWaitsForTheNextPublicationThenLaterCallsMissNothing(): void
    {
        self::startEngine();
        push_send('feed', 'published before anyone listened');
        self::assertNull(push_get_message('feed', 0.2), 'the first call waits for the next publication');
        push_send('feed', 'one');
        push_send('feed', 'two');
        push_send('feed', 'three');
        $got = [];
        while (($m = push_get_message('feed', 0.2)) !== null) {
            $got[] = $m->data;
        }
        self::assertSame(['one', 'two', 'three'], $got, 'a loop of calls misses nothing, none twice');
    }

    public function testCursorsArePerChannel(): void
    {
        self::startEngine();
        self::assertNull(push_get_message('a', 0.05));
        self::assertNull(push_get_message('b', 0.05));
        push_send('a', 'a1');
        push_send('b', 'b1');
        push_send('a', 'a2');
        self::assertSame('b1', push_get_message('b', 1)->data);
        self::assertSame('a1', push_get_message('a', 1)->data);
        self::assertSame('a2', push_get_message('a', 1)->data);
    }

    public function testAnIdOlderThanTheHistoryIsReportedAsLost(): void
    {
        self::startEngine(['history' => 3]);
        $first = push_send('h', 'm1');
        foreach (['m2', 'm3', 'm4', 'm5'] as $m) {
            push_send('h', $m);
        }
        $m = push_get_message('h', 1, $first);
        self::assertTrue($m->lost, 'm2 left the history: the caller is told');
        self::assertSame('m3', $m->data, 'then it continues from the oldest message held');
        self::assertFalse(push_get_message('h', 1, $m->id)->lost);
    }

    public function testAnIdFromAnotherEngineIsReportedAsLost(): void
    {
        self::startEngine();
        push_send('h', 'x');
        $m = push_get_message('h', 1, '1-5');
        self::assertTrue($m->lost);
        self::assertSame('x', $m->data);
    }

    public function testALossTheWaitTimedOutOnIsReportedWithTheNextMessage(): void
    {
        self::startEngine();
        // A cursor of another engine run, on a channel with nothing held:
        // the loss is known at once, but there is no message to carry it.
        self::assertNull(push_get_message('gone', 0.2, '1-5'));
        push_send('gone', 'next');
        $m = push_get_message('gone', 1);
        self::assertSame('next', $m->data);
        self::assertTrue($m->lost, 'the loss is not forgotten with the timeout');
        push_send('gone', 'after');
        self::assertFalse(push_get_message('gone', 1)->lost, 'and told once');
    }

    public function testBinaryDataRoundTrips(): void
    {
        self::startEngine();
        $bytes = "\x00\xff\xfe binary \x00 with NUL";
        $id = push_send('bin', 'before');
        push_send('bin', $bytes);
        self::assertSame($bytes, push_get_message('bin', 1, $id)->data);
    }

    public function testEmptyMessageIsAMessage(): void
    {
        self::startEngine();
        $id = push_send('e', 'x');
        push_send('e', '');
        self::assertSame('', push_get_message('e', 1, $id)->data);
    }

    public function testTimeoutReturnsNull(): void
    {
        self::startEngine();
        $t = microtime(true);
        self::assertNull(push_get_message('quiet', 0.3));
        self::assertGreaterThanOrEqual(0.29, microtime(true) - $t);
        self::assertNull(push_get_message('quiet', 0));
    }

    public function testMessageIsReadonlyFinalAndConstructible(): void
    {
        $m = new Message('1-1', 'c', null, 'd');
        self::assertFalse($m->lost);
        self::assertNull($m->event);
        self::assertInstanceOf(\Stringable::class, $m);
        self::assertTrue((new \ReflectionClass(Message::class))->isFinal());
        $this->expectException(\Error::class);
        $this->expectExceptionMessage('Cannot modify readonly property Push\Message::$data');
        $m->data = 'changed';
    }

    public function testStatsCountWhatHappened(): void
    {
        self::startEngine(['history' => 2]);
        $before = push_stats();
        self::assertSame('engine', $before['role']);
        self::assertSame(getmypid(), $before['pid']);
        push_send('s1', 'a');
        push_send('s1', 'b');
        push_send('s1', 'c');
        push_send('s2', 'd');
        $s = push_stats();
        self::assertSame(2, $s['channels']);
        self::assertSame(4, $s['publications']);
        self::assertSame(3, $s['history_messages'], 'history is bounded by push.history');
        self::assertGreaterThan(0, $s['history_bytes']);
        self::assertSame(0, $s['subscribers'], 'no waiter is left behind');
        self::assertGreaterThan(0, $s['memory_rss']);
        self::assertGreaterThan(1, $s['threads']);
    }

    public function testStatsWithoutEngine(): void
    {
        $s = push_stats();
        self::assertSame('idle', $s['role']);
        self::assertNull($s['listen']);
        self::assertSame(0, $s['channels']);
    }
}
