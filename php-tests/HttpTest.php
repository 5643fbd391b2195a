<?php

declare(strict_types=1);

namespace Push\Tests;

/** PHP and the browser endpoints share one hub and one cursor. */
final class HttpTest extends PushTestCase
{
    public function testPostPublishReachesPushGetMessage(): void
    {
        $addr = self::startEngine();
        self::assertNull(push_get_message('orders', 0.05), 'the cursor starts here');
        $ctx = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/octet-stream\r\n",
            'content' => "order #1\nshipped",
            'timeout' => 5,
        ]]);
        $answer = json_decode((string) file_get_contents("http://$addr/publish/orders?event=shipped", false, $ctx), true);
        $m = push_get_message('orders', 1);
        self::assertNotNull($m);
        self::assertSame($answer['id'], $m->id);
        self::assertSame("order #1\nshipped", $m->data);
        self::assertSame('shipped', $m->event);
    }

    public function testPushSendReachesLongPollWithTheSameCursor(): void
    {
        $addr = self::startEngine();
        $first = push_send('news', 'a');
        $second = push_send('news', 'b');
        [$status, $body] = self::httpGet($addr, "/poll/news?since=$first&timeout=1");
        self::assertSame(200, $status);
        $batch = json_decode($body, true, 512, JSON_THROW_ON_ERROR);
        self::assertSame($second, $batch['cursor']);
        self::assertSame(['b'], array_column($batch['messages'], 'data'));
        self::assertFalse($batch['lost']);
        self::assertSame('b', push_get_message('news', 1, $first)->data, 'the same id is the push_get_message() cursor');
    }

    public function testBinaryOptionKeepsTextDataBinary(): void
    {
        $addr = self::startEngine();
        $first = push_send('b', 'text');
        push_send('b', 'looks like text', ['binary' => true]);
        [, $body] = self::httpGet($addr, "/poll/b?since=$first&timeout=0");
        $m = json_decode($body, true, 512, JSON_THROW_ON_ERROR)['messages'][0];
        self::assertSame('base64', $m['encoding']);
        self::assertSame('looks like text', base64_decode($m['data']));
        self::assertSame('looks like text', push_get_message('b', 1, $first)->data);
    }

    public function testPushSendReachesAnSseStream(): void
    {
        $addr = self::startEngine(['keepalive' => 30]);
        // HTTP/1.0: a plain stream (PHP's dechunk filter delays small chunks).
        $stream = fopen("http://$addr/sse/live", 'r', false, stream_context_create(['http' => ['timeout' => 5, 'protocol_version' => 1.0]]));
        self::assertIsResource($stream);
        self::assertSame("retry: 2000\n", fgets($stream));
        self::assertSame("\n", fgets($stream));
        $id = push_send('live', "two\nlines", ['event' => 'note']);
        $frame = '';
        while (($line = fgets($stream)) !== false && $line !== "\n") {
            $frame .= $line;
        }
        fclose($stream);
        self::assertSame("id: $id\nevent: note\ndata: two\ndata: lines\n", $frame);
    }
}
