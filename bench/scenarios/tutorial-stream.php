<?php
/**
 * The tutorial's SSE server (stream.php), as it teaches it, under php-fpm:
 * the reference for what push replaces (bench/run.sh, "tutorial" scenario).
 *
 * The loop below is the tutorial's, unchanged — including its
 * `"data: $message "` without the blank line that ends an event (a browser
 * never dispatches it; the benchmark's client reads the raw stream). The
 * tutorial leaves getMessage() to the reader; here it is the cheapest honest
 * one without APCu or a database: the message is the content of a file the
 * publisher rewrites (nginx passes its path as BENCH_MESSAGE_FILE), and a
 * message is new when the content differs from the last one this process
 * saw. The first call only notes the current content (a subscriber starts
 * at the next message, as push's do).
 */

function getMessage()
{
    static $last = null;
    clearstatcache();
    $message = @file_get_contents($_SERVER['BENCH_MESSAGE_FILE']);
    if ($message === false || $message === $last) {
        return null;
    }
    $first = $last === null;
    $last = $message;
    return $first ? null : $message;
}

header('Content-Type: text/event-stream');
header('Cache-Control: no-cache');
header('Connection: keep-alive');
while (true) {
    $message = getMessage();
    if ($message) {
        echo "data: $message ";
    }
    ob_flush();
    flush();
    sleep(1);
}
