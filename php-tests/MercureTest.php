<?php

declare(strict_types=1);

namespace Push\Tests;

use Symfony\Component\Mercure\Exception\RuntimeException as MercureException;
use Symfony\Component\Mercure\Hub;
use Symfony\Component\Mercure\Jwt\TokenProviderInterface;
use Symfony\Component\Mercure\Update;

/**
 * The Mercure hub (push.mercure = On) as a Symfony app uses it: Debian's
 * php-symfony-mercure (Hub, Update, a token provider signing with
 * hash_hmac) publishing to bin/push-server; subscribers read the stream
 * over a plain socket, as an EventSource would.
 */
final class MercureTest extends PushTestCase
{
    private const PUBLISHER_KEY = 'mercure-publisher-key-of-the-php-test-0123456789';
    private const SUBSCRIBER_KEY = 'mercure-subscriber-key-of-the-php-test-0123456789';
    private const AUTOLOAD = '/usr/share/php/Symfony/Component/Mercure/autoload.php';

    protected function setUp(): void
    {
        parent::setUp();
        if (!is_file(self::AUTOLOAD)) {
            self::fail('Debian\'s php-symfony-mercure is needed: apt-get install php-symfony-mercure');
        }
        require_once self::AUTOLOAD;
    }

    /** An HS256 JWT with these claims, made as any PHP app can: hash_hmac. */
    private static function jwt(string $key, array $claims): string
    {
        $b64 = static fn (string $s): string => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
        $signed = $b64('{"alg":"HS256","typ":"JWT"}') . '.' . $b64((string) json_encode($claims));
        return $signed . '.' . $b64(hash_hmac('sha256', $signed, $key, true));
    }

    private static function provider(string $token): TokenProviderInterface
    {
        return new class ($token) implements TokenProviderInterface {
            public function __construct(private string $token)
            {
            }

            public function getJwt(): string
            {
                return $this->token;
            }
        };
    }

    /** Starts bin/push-server with the hub on; returns its address. */
    private function hub(): string
    {
        [, , $addr] = $this->daemon(null, [
            '--mercure=On',
            '--mercure_publisher_key=' . self::PUBLISHER_KEY,
            '--mercure_subscriber_key=' . self::SUBSCRIBER_KEY,
            '--mercure_anonymous=On',
            '--mercure_history=50',
        ]);
        return $addr;
    }

    /**
     * Subscribes with $query (and $headers), reads the stream until it holds
     * $until (or 5 s pass); returns the response as read.
     *
     * @param list<string> $headers
     */
    private static function read(string $addr, string $query, string $until, array $headers = []): string
    {
        $socket = stream_socket_client("tcp://$addr", $errno, $error, 5);
        self::assertIsResource($socket, "connect to $addr: $error");
        $head = "GET /.well-known/mercure?$query HTTP/1.1\r\nHost: $addr\r\n";
        foreach ($headers as $h) {
            $head .= "$h\r\n";
        }
        fwrite($socket, "$head\r\n");
        stream_set_timeout($socket, 0, 100_000);
        $read = '';
        $deadline = microtime(true) + 5;
        while (!str_contains($read, $until) && microtime(true) < $deadline) {
            $read .= (string) fread($socket, 65536);
        }
        fclose($socket);
        return $read;
    }

    public function testSymfonysHubPublishesToPushAndSubscribersGetTheUpdates(): void
    {
        $addr = $this->hub();
        $url = "http://$addr/.well-known/mercure";
        $hub = new Hub($url, self::provider(self::jwt(self::PUBLISHER_KEY, ['mercure' => ['publish' => ['*']]])));

        $first = $hub->publish(new Update('https://example.com/books/1', '{"title":"one"}'));
        self::assertStringStartsWith('urn:push:', $first, 'the hub names an update without an id');
        self::assertSame('book-2', $hub->publish(new Update(
            ['https://example.com/books/2', 'https://example.com/news'],
            "line 1\nline 2",
            false,
            'book-2',
            'book',
            1500,
        )), 'the publisher\'s id, kept and returned');
        self::assertSame('user-7', $hub->publish(new Update('https://example.com/users/7', 'secret', true, 'user-7')));
        self::assertSame('book-3', $hub->publish(new Update('https://example.com/books/3', 'three', false, 'book-3')));

        // Anonymous, by URI template, from the start of the history.
        $topics = 'topic=' . rawurlencode('https://example.com/books/{id}') . '&topic=' . rawurlencode('https://example.com/users/{id}');
        $public = self::read($addr, "$topics&lastEventID=earliest", 'book-3');
        self::assertStringContainsString("id: $first\ndata: {\"title\":\"one\"}\n\n", $public);
        self::assertStringContainsString("id: book-2\nevent: book\nretry: 1500\ndata: line 1\ndata: line 2\n\n", $public);
        self::assertStringContainsString("id: book-3\ndata: three\n\n", $public);
        self::assertStringNotContainsString('secret', $public, 'a private update needs a grant');

        // With a subscriber's token (as the mercureAuthorization cookie), resuming after book-2.
        $token = self::jwt(self::SUBSCRIBER_KEY, ['mercure' => ['subscribe' => ['https://example.com/users/{id}']]]);
        $private = self::read($addr, $topics, 'book-3', ["Cookie: mercureAuthorization=$token", 'Last-Event-ID: book-2']);
        self::assertMatchesRegularExpression('#\r\nlast-event-id: book-2\r\n#i', $private);
        self::assertStringContainsString("id: user-7\ndata: secret\n\n", $private);
        self::assertStringNotContainsString('book-2', substr($private, (int) strpos($private, "\r\n\r\n")), 'no duplicate');
        self::assertLessThan(strpos($private, 'id: book-3'), strpos($private, 'id: user-7'), 'in order');
    }

    public function testTheLogIsNoChannelOfPushSend(): void
    {
        [, $socket] = $this->daemon(null, ['--mercure=On', '--mercure_publisher_key=' . self::PUBLISHER_KEY]);
        $out = self::worker($socket, <<<'PHP'
            foreach (['push_send' => fn () => push_send('.push/mercure', 'forged'), 'push_get_message' => fn () => push_get_message('.push/mercure', 0.1)] as $f => $call) {
                try { $call(); echo "$f: accepted\n"; } catch (\ValueError $e) { echo "$f: ", $e->getMessage(), "\n"; }
            }
            PHP);
        self::assertSame(
            "push_send: push_send(): channel \".push/mercure\" is reserved for the engine's own use (names beginning with .push/)\n"
            . "push_get_message: push_get_message(): channel \".push/mercure\" is reserved for the engine's own use (names beginning with .push/)\n",
            $out,
        );
    }

    public function testPublishingWithoutAGrantThrows(): void
    {
        $url = 'http://' . $this->hub() . '/.well-known/mercure';
        $cases = [
            'wrong key' => self::jwt('another-key-of-at-least-32-bytes-000000', ['mercure' => ['publish' => ['*']]]),
            'topic not granted' => self::jwt(self::PUBLISHER_KEY, ['mercure' => ['publish' => ['https://example.com/books/{id}']]]),
        ];
        foreach ($cases as $case => $token) {
            try {
                (new Hub($url, self::provider($token)))->publish(new Update('https://example.com/admin', 'x'));
                self::fail("$case: published");
            } catch (MercureException $e) {
                self::assertMatchesRegularExpression('#40[13]#', $e->getMessage() . ' ' . (string) $e->getPrevious()?->getMessage(), $case);
            }
        }
        $granted = self::jwt(self::PUBLISHER_KEY, ['mercure' => ['publish' => ['https://example.com/books/{id}']]]);
        $id = (new Hub($url, self::provider($granted)))->publish(new Update('https://example.com/books/9', 'ok'));
        self::assertStringStartsWith('urn:push:', $id);
    }

    /**
     * symfony/mercure's FrankenPhpHub publishes with mercure_publish(); the
     * php-symfony-mercure of Debian 12 (0.6.3) and 13 (0.6.5) ships no
     * FrankenPhpHub yet, so a worker without it uses a class whose
     * publish() is FrankenPhpHub's, word for word, over Debian's Update.
     */
    private const FRANKENPHP_HUB = <<<'PHP'
        require '/usr/share/php/Symfony/Component/Mercure/autoload.php';
        use Symfony\Component\Mercure\Update;
        if (class_exists(\Symfony\Component\Mercure\FrankenPhpHub::class)) {
            $hub = new \Symfony\Component\Mercure\FrankenPhpHub('https://example.com/.well-known/mercure');
        } else {
            $hub = new class {
                public function publish(Update $update): string
                {
                    return mercure_publish(
                        $update->getTopics(),
                        $update->getData(),
                        $update->isPrivate(),
                        $update->getId(),
                        $update->getType(),
                        $update->getRetry()
                    );
                }
            };
        }
        PHP;

    public function testFrankenPhpHubPublishesThroughMercurePublishFromAWorker(): void
    {
        [, $socket, $addr] = $this->daemon(null, [
            '--mercure=On',
            '--mercure_publisher_key=' . self::PUBLISHER_KEY,
            '--mercure_subscriber_key=' . self::SUBSCRIBER_KEY,
            '--mercure_anonymous=On',
        ]);
        $out = self::worker($socket, self::FRANKENPHP_HUB . <<<'PHP'
            echo $hub->publish(new Update('https://example.com/books/1', '{"title":"one"}')), "\n";
            echo $hub->publish(new Update(['https://example.com/books/2', 'https://example.com/news'], "line 1\nline 2", false, 'book-2', 'book', 1500)), "\n";
            echo $hub->publish(new Update('https://example.com/users/7', 'secret', true, 'user-7')), "\n";
            echo mercure_publish('https://example.com/books/3', 'three', id: 'book-3'), "\n";
            PHP);
        [$first, $second, $third, $fourth] = explode("\n", $out);
        self::assertStringStartsWith('urn:push:', $first, 'the hub names an update without an id');
        self::assertSame(['book-2', 'user-7', 'book-3'], [$second, $third, $fourth], 'the publisher\'s ids, kept and returned');

        $topics = 'topic=' . rawurlencode('https://example.com/books/{id}') . '&topic=' . rawurlencode('https://example.com/users/{id}');
        $public = self::read($addr, "$topics&lastEventID=earliest", 'book-3');
        self::assertStringContainsString("id: $first\ndata: {\"title\":\"one\"}\n\n", $public);
        self::assertStringContainsString("id: book-2\nevent: book\nretry: 1500\ndata: line 1\ndata: line 2\n\n", $public);
        self::assertStringNotContainsString('secret', $public, 'a private update needs a grant');
        $token = self::jwt(self::SUBSCRIBER_KEY, ['mercure' => ['subscribe' => ['https://example.com/users/{id}']]]);
        $private = self::read($addr, $topics, 'book-3', ["Authorization: Bearer $token", 'Last-Event-ID: book-2']);
        self::assertStringContainsString("id: user-7\ndata: secret\n\n", $private);
    }

    public function testMercurePublishRefusesWhatTheHubWouldRefuse(): void
    {
        [, $socket] = $this->daemon(null, ['--mercure=On', '--mercure_publisher_key=' . self::PUBLISHER_KEY]);
        $out = self::worker($socket, <<<'PHP'
            $calls = [
                'no topic' => fn () => mercure_publish([]),
                'id earliest' => fn () => mercure_publish('t', id: 'earliest'),
                'id of the hub' => fn () => mercure_publish('t', id: 'urn:push:1-1'),
                'type with a line break' => fn () => mercure_publish('t', type: "a\nb"),
                'negative retry' => fn () => mercure_publish('t', retry: -1),
                'data not UTF-8' => fn () => mercure_publish('t', "\xff"),
                'a topic not a string' => fn () => mercure_publish(['t', 1]),
                'topics an int' => fn () => mercure_publish(1),
            ];
            foreach ($calls as $case => $call) {
                try { $call(); echo "$case: published\n"; } catch (\Throwable $e) { echo "$case: ", get_class($e), ': ', $e->getMessage(), "\n"; }
            }
            echo 'still publishing: ', str_starts_with(mercure_publish('t'), 'urn:push:') ? 'yes' : 'no', "\n";
            PHP);
        self::assertSame(
            "no topic: ValueError: mercure_publish(): invalid Mercure update: missing topic: an update needs at least one topic\n"
            . "id earliest: ValueError: mercure_publish(): invalid Mercure update: id must not be empty or earliest, begin with # or urn:push:, or hold a line break\n"
            . "id of the hub: ValueError: mercure_publish(): invalid Mercure update: id must not be empty or earliest, begin with # or urn:push:, or hold a line break\n"
            . "type with a line break: ValueError: mercure_publish(): invalid Mercure update: type must not be empty or hold a line break\n"
            . "negative retry: ValueError: mercure_publish(): Argument #6 (\$retry) must be greater than or equal to 0\n"
            . "data not UTF-8: ValueError: mercure_publish(): Argument #2 (\$data) must be valid UTF-8\n"
            . "a topic not a string: TypeError: mercure_publish(): Argument #1 (\$topics) must contain only strings, int given\n"
            . "topics an int: TypeError: mercure_publish(): Argument #1 (\$topics) must be of type array|string, int given\n"
            . "still publishing: yes\n",
            $out,
        );
    }

    public function testMercurePublishWithTheHubOffOrNoEngineThrows(): void
    {
        [, $socket] = $this->daemon();
        $code = <<<'PHP'
            try { mercure_publish('t', 'x'); echo "published\n"; }
            catch (\RuntimeException $e) { echo get_class($e), ': ', $e->getMessage(), "\n"; }
            PHP;
        self::assertSame(
            "Push\\PushException: mercure_publish(): the Mercure hub is off in the push engine: set push.mercure = On where the engine runs (push_serve(), push_server_start() or bin/push-server)\n",
            self::worker($socket, $code),
        );
        [$status, $out, $err] = self::php("<?php\n$code");
        self::assertSame(0, $status, $err);
        self::assertStringStartsWith('Push\ConnectionException: mercure_publish(): no push engine runs in this process', $out);
    }

    public function testMercurePublishAndTheLinkInTheEngineProcess(): void
    {
        [$status, $out, $err] = self::php(<<<'PHP'
            <?php
            push_server_start(['listen' => '127.0.0.1:0', 'mercure' => 'On', 'mercure_anonymous' => 'On', 'mercure_publisher_key' => str_repeat('k', 32)]);
            $addr = push_stats()['listen'];
            echo push_mercure_link() === "<http://$addr/.well-known/mercure>; rel=\"mercure\"" ? "link ok\n" : push_mercure_link() . "\n";
            $id = mercure_publish(['https://example.com/a', 'https://example.com/b'], 'in process', false, 'my-id', 'note', 10);
            echo "$id\n";
            $s = stream_socket_client("tcp://$addr");
            fwrite($s, "GET /.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fb&lastEventID=earliest HTTP/1.1\r\nHost: x\r\n\r\n");
            stream_set_timeout($s, 5);
            $read = '';
            while (!str_contains($read, "\n\n" ) || !str_contains($read, 'in process')) { $chunk = fread($s, 8192); if ($chunk === '' || $chunk === false) break; $read .= $chunk; }
            echo str_contains($read, "id: my-id\nevent: note\nretry: 10\ndata: in process\n\n") ? "delivered\n" : $read;
            PHP, ['-d', 'push.socket=' . self::socketPath()]);
        self::assertSame(0, $status, $out . $err);
        self::assertSame("link ok\nmy-id\ndelivered\n", $out);
    }

    public function testTheDiscoveryLink(): void
    {
        $link = static fn (array $ini): array => self::php(
            '<?php try { echo push_mercure_link(); } catch (\Push\PushException $e) { echo get_class($e), ": ", $e->getMessage(); }',
            array_merge(...array_map(static fn ($k, $v) => ['-d', "push.$k=$v"], array_keys($ini), $ini)),
        );
        self::assertSame('<http://127.0.0.1:8080/.well-known/mercure>; rel="mercure"', $link([])[1], 'push.listen by default');
        self::assertSame('<http://push.internal:9000/.well-known/mercure>; rel="mercure"', $link(['listen' => 'push.internal:9000'])[1]);
        self::assertSame(
            '<https://push.example.com/.well-known/mercure>; rel="mercure"',
            $link(['listen' => '0.0.0.0:8080', 'mercure_public_url' => 'https://push.example.com/.well-known/mercure'])[1],
        );
        self::assertSame(
            'Push\PushException: push_mercure_link(): push.listen (0.0.0.0:8080) is no address a browser can reach (0.0.0.0, [::] or port 0): set push.mercure_public_url to the hub\'s public URL',
            $link(['listen' => '0.0.0.0:8080'])[1],
        );
        self::assertStringContainsString('push.mercure_public_url', $link(['mercure_public_url' => '/relative'])[1]);
    }

    public function testPushSendAndPushGetMessageMeetMercureInWorkers(): void
    {
        [, $socket, $addr] = $this->daemon(null, [
            '--mercure=On',
            '--mercure_publisher_key=' . self::PUBLISHER_KEY,
            '--mercure_anonymous=On',
            '--mercure_channels=On',
        ]);
        // A worker's push_send() (through push.socket) is a Mercure update of its channel.
        self::assertSame("ok\n", self::worker($socket, "push_send('news', 'from a worker', ['event' => 'note']); echo \"ok\\n\";"));
        $stream = self::read($addr, 'topic=news&lastEventID=earliest', 'from a worker');
        self::assertMatchesRegularExpression("#id: urn:push:[^\n]+\nevent: note\ndata: from a worker\n\n#", $stream);
        // A worker's push_get_message() reads a Mercure update of its channel.
        $out = self::worker($socket, <<<'PHP'
            $before = push_send('news', 'marker');
            $id = mercure_publish(['news', 'https://example.com/elsewhere'], 'from Mercure', type: 'headline');
            $m = push_get_message('news', 5.0, $before);
            echo $m?->event, ' ', $m?->data, "\n";
            echo str_starts_with($id, 'urn:push:') ? "a Mercure id\n" : "$id\n";
            PHP);
        self::assertSame("headline from Mercure\na Mercure id\n", $out);
    }

    /** A Mercure 1.0 access token (typ at+jwt), signed with hash_hmac. */
    private static function accessToken(string $key, array $claims): string
    {
        $b64 = static fn (string $s): string => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
        $signed = $b64('{"alg":"HS256","typ":"at+jwt"}') . '.' . $b64((string) json_encode($claims));
        return $signed . '.' . $b64(hash_hmac('sha256', $signed, $key, true));
    }

    /**
     * POSTs a form to the hub with a bearer token, by PHP's own HTTP
     * stream wrapper; returns [status, WWW-Authenticate, body].
     *
     * @param array<string, string> $fields
     * @return array{int, string, string}
     */
    private static function post(string $url, string $token, array $fields): array
    {
        $context = stream_context_create(['http' => [
            'method' => 'POST',
            'header' => "Content-Type: application/x-www-form-urlencoded\r\nAuthorization: Bearer $token\r\n",
            'content' => http_build_query($fields),
            'ignore_errors' => true,
            'timeout' => 5,
        ]]);
        $body = (string) file_get_contents($url, false, $context);
        $headers = implode("\n", $http_response_header);
        self::assertMatchesRegularExpression('#^HTTP/1\.1 (\d+)#', $headers);
        preg_match('#^HTTP/1\.1 (\d+)#', $headers, $status);
        preg_match('#^www-authenticate: (.*)$#mi', $headers, $challenge);
        return [(int) $status[1], trim($challenge[1] ?? ''), $body];
    }

    public function testA10PublisherAndSubscriberShareTheHubWithTheClassicOnes(): void
    {
        $addr = $this->hub();
        $url = "http://$addr/.well-known/mercure";
        $details = static fn (string $action, array $topics): array => [
            'aud' => $url,
            'exp' => time() + 600,
            'authorization_details' => [['type' => 'mercure', 'actions' => [$action], 'topics' => $topics]],
        ];
        $books = [['match' => 'https://example.com/books/:id', 'matchType' => 'URLPattern']];
        $publisher = self::accessToken(self::PUBLISHER_KEY, $details('publish', $books));

        [$status, , $first] = self::post($url, $publisher, ['topic' => 'https://example.com/books/1', 'data' => 'one (1.0)']);
        self::assertSame(200, $status, $first);
        self::assertStringStartsWith('urn:push:', $first);
        [$status, , $id] = self::post($url, $publisher, ['topic' => 'https://example.com/books/2', 'data' => 'two (private)', 'private' => 'on', 'id' => 'book-2']);
        self::assertSame([200, 'book-2'], [$status, $id]);
        // A classic publisher (Symfony's Hub) on the same hub.
        $classic = new Hub($url, self::provider(self::jwt(self::PUBLISHER_KEY, ['mercure' => ['publish' => ['*']]])));
        self::assertSame('book-3', $classic->publish(new Update('https://example.com/books/3', 'three (classic)', false, 'book-3')));

        // Refusals, each with its RFC 6750 error.
        $refusals = [
            'wrong aud' => [401, 'invalid_token', self::accessToken(self::PUBLISHER_KEY, ['aud' => 'https://another-hub.example/.well-known/mercure'] + $details('publish', $books))],
            'expired' => [401, 'invalid_token', self::accessToken(self::PUBLISHER_KEY, ['exp' => time() - 600] + $details('publish', $books))],
            'wrong key' => [401, 'invalid_token', self::accessToken(self::SUBSCRIBER_KEY, $details('publish', $books))],
            'subscribe only' => [403, 'insufficient_scope', self::accessToken(self::PUBLISHER_KEY, $details('subscribe', $books))],
            'another topic' => [403, 'insufficient_scope', $publisher],
        ];
        foreach ($refusals as $case => [$want, $error, $token]) {
            $topic = $case === 'another topic' ? 'https://example.com/authors/1' : 'https://example.com/books/9';
            [$status, $challenge, $body] = self::post($url, $token, ['topic' => $topic, 'data' => 'refused']);
            self::assertSame($want, $status, "$case: $body");
            self::assertStringContainsString("error=\"$error\"", $challenge, $case);
        }

        // A 1.0 subscriber: a URL pattern, its token in the mercureAccessToken cookie.
        $subscriber = self::accessToken(self::SUBSCRIBER_KEY, $details('subscribe', [['match' => 'https://example.com/books/2']]));
        $query = 'matchURLPattern=' . rawurlencode('https://example.com/books/:id') . '&lastEventID=earliest';
        $stream = self::read($addr, $query, 'book-3', ["Cookie: mercureAccessToken=$subscriber"]);
        self::assertStringContainsString("id: $first\ndata: one (1.0)\n\n", $stream);
        self::assertStringContainsString("id: book-2\ndata: two (private)\n\n", $stream);
        self::assertStringContainsString("id: book-3\ndata: three (classic)\n\n", $stream);
        self::assertStringNotContainsString('refused', $stream);
        // Anonymous 1.0 and classic subscribers get the public ones only.
        $anonymous = self::read($addr, $query, 'book-3');
        self::assertStringContainsString('one (1.0)', $anonymous);
        self::assertStringNotContainsString('two (private)', $anonymous);
        $topic = 'topic=' . rawurlencode('https://example.com/books/{id}') . '&lastEventID=earliest';
        $old = self::read($addr, $topic, 'book-3');
        self::assertStringContainsString("id: $first\ndata: one (1.0)\n\n", $old);
        self::assertStringNotContainsString('two (private)', $old);
    }
}
