<?php

declare(strict_types=1);

namespace Push\Tests;

/**
 * The documentation runs: every PHP snippet of README.md and docs/*.md
 * fenced as ```php run is run in a fresh php process with this build, with
 * assertions on, and must exit 0 and write nothing to stderr; every shell
 * snippet fenced as ```sh run is run by bash (-e, -o pipefail) in the
 * repository's root, with this build, and must exit 0. A snippet that
 * cannot run alone is fenced ```php or ```sh and is not run.
 *
 * Also: the push_stats() table of docs/operations.md lists exactly the keys
 * push_stats() returns (crates/push-engine/tests/docs_settings.rs checks the
 * engine's side of that page, and docs/settings.md).
 */
final class DocsTest extends PushTestCase
{
    private const ROOT = __DIR__ . '/..';

    /** Pages that must hold runnable snippets (a fence typo would drop them silently). */
    private const PAGES_WITH_SNIPPETS = ['README.md', 'docs/php-api.md', 'docs/browsers.md', 'docs/operations.md', 'docs/security.md', 'docs/install.md'];

    /** @return list<string> README.md and docs/*.md, relative to the root */
    private static function pages(): array
    {
        $pages = ['README.md'];
        foreach (glob(self::ROOT . '/docs/*.md') ?: [] as $path) {
            $pages[] = 'docs/' . basename($path);
        }
        return $pages;
    }

    /**
     * The runnable snippets of $text: [first code line's number, code, language].
     *
     * @return list<array{int, string, string}>
     */
    public static function extract(string $text): array
    {
        $snippets = [];
        $lines = explode("\n", $text);
        $start = null;
        $code = [];
        $lang = 'php';
        foreach ($lines as $i => $line) {
            if ($start === null) {
                if (preg_match('/^```(php|sh)\s+run\s*$/', $line, $m)) {
                    $start = $i + 2;
                    $lang = $m[1];
                    $code = [];
                }
                continue;
            }
            if (preg_match('/^```\s*$/', $line)) {
                $snippets[] = [$start, implode("\n", $code) . "\n", $lang];
                $start = null;
                continue;
            }
            $code[] = $line;
        }
        if ($start !== null) {
            $snippets[] = [$start, 'unterminated', $lang];
        }
        return $snippets;
    }

    /** @return array<string, array{string, int, string, string}> "file:line" => [file, line, code, language] */
    public static function snippets(): array
    {
        $all = [];
        foreach (self::pages() as $page) {
            foreach (self::extract((string) file_get_contents(self::ROOT . "/$page")) as [$line, $code, $lang]) {
                $all["$page:$line"] = [$page, $line, $code, $lang];
            }
        }
        return $all;
    }

    /**
     * @dataProvider snippets
     */
    #[\PHPUnit\Framework\Attributes\DataProvider('snippets')]
    public function testSnippet(string $page, int $line, string $code, string $lang): void
    {
        self::assertNotSame('unterminated', $code, "$page:$line: the ```$lang run fence is not closed");
        if ($lang === 'sh') {
            [$status, $out, $err] = self::command(['bash', '-e', '-o', 'pipefail', '-c', 'cd ' . escapeshellarg(realpath(self::ROOT)) . "\n" . $code], 60);
            self::assertSame(0, $status, "$page:$line: the snippet failed (exit $status)\n--- stdout\n$out\n--- stderr\n$err");
            return;
        }
        // The file PHP runs is "<?php\n" + the snippet, so its line N is the snippet's line N - 1.
        $offset = $line - 2;
        if (str_starts_with($code, '<?php')) {
            $offset = $line - 1;
        } else {
            $code = "<?php\n$code";
        }
        [$status, $out, $err] = self::php($code, [
            '-d', 'zend.assertions=1',
            '-d', 'assert.exception=1',
            '-d', 'error_reporting=-1',
            '-d', 'display_errors=stderr',
            '-d', 'log_errors=0',
        ], 60);
        $where = fn (string $s): string => (string) preg_replace_callback(
            '~\S*push-test-[A-Za-z0-9]+(?: on line |\(|:)(\d+)\)?~',
            fn (array $m): string => "$page:" . ((int) $m[1] + $offset),
            $s,
        );
        $report = "$page:$line: the snippet failed (exit $status)\n--- stdout\n" . $where($out) . "\n--- stderr\n" . $where($err);
        self::assertSame(0, $status, $report);
        self::assertSame('', $err, $report);
    }

    public function testTheDocsHaveRunnableSnippetsWhereExpected(): void
    {
        $found = array_unique(array_column(self::snippets(), 0));
        foreach (self::PAGES_WITH_SNIPPETS as $page) {
            self::assertContains($page, $found, "$page has no ```php run snippet");
        }
        self::assertSame(
            [[3, "echo 1;\n", 'php'], [9, "echo 2;\n", 'php'], [12, "true\n", 'sh']],
            self::extract("text\n```php run\necho 1;\n```\n```php\nnot run\n```\n```php run\necho 2;\n```\n```sh run\ntrue\n```\n"),
        );
    }

    public function testThePushStatsTableListsEveryKey(): void
    {
        $text = (string) file_get_contents(self::ROOT . '/docs/operations.md');
        $documented = [];
        $inside = false;
        foreach (explode("\n", $text) as $line) {
            if (!str_starts_with($line, '|')) {
                $inside = false;
                continue;
            }
            if (preg_match('/^\|\s*key\s*\|/', $line)) {
                $inside = true;
                continue;
            }
            if ($inside && !preg_match('/^\|[-:| ]+\|$/', $line)) {
                $first = explode('|', $line)[1];
                preg_match_all('/`([^`]+)`/', $first, $m);
                array_push($documented, ...$m[1]);
            }
        }
        $keys = array_keys(push_stats());
        sort($keys);
        sort($documented);
        self::assertSame($keys, $documented, 'docs/operations.md\'s push_stats() table lists exactly the keys of push_stats()');
    }

    /** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
    private static function anchor(string $heading): string
    {
        $heading = strtolower(trim(str_replace('`', '', $heading)));
        return str_replace(' ', '-', (string) preg_replace('/[^\p{L}\p{N} _-]/u', '', $heading));
    }

    public function testLinksBetweenPagesResolve(): void
    {
        $broken = [];
        foreach (self::pages() as $page) {
            $text = (string) file_get_contents(self::ROOT . "/$page");
            // Code blocks hold no links.
            $text = (string) preg_replace('/^```.*?^```/ms', '', $text);
            preg_match_all('/\]\(([^)\s]+)\)/', $text, $m);
            foreach ($m[1] as $link) {
                if (preg_match('#^[a-z]+:#', $link)) {
                    continue;
                }
                [$path, $fragment] = array_pad(explode('#', $link, 2), 2, null);
                $target = $path === '' ? $page : self::normalize(dirname($page) . '/' . $path);
                if (str_starts_with($target, '../') || !file_exists(self::ROOT . "/$target")) {
                    $broken[] = "$page: ($link): no $target in the repository";
                    continue;
                }
                if ($fragment !== null && str_ends_with($target, '.md')) {
                    preg_match_all('/^#+\s+(.*)$/m', (string) file_get_contents(self::ROOT . "/$target"), $h);
                    if (!in_array($fragment, array_map([self::class, 'anchor'], $h[1]), true)) {
                        $broken[] = "$page: ($link): no heading #$fragment in $target";
                    }
                }
            }
        }
        self::assertSame([], $broken);
    }

    /** a/./b/../c → a/c; a path above the root keeps its leading ../ */
    private static function normalize(string $path): string
    {
        $parts = [];
        foreach (explode('/', $path) as $part) {
            if ($part === '' || $part === '.') {
                continue;
            }
            if ($part === '..' && $parts !== [] && end($parts) !== '..') {
                array_pop($parts);
            } else {
                $parts[] = $part;
            }
        }
        return implode('/', $parts);
    }
}
