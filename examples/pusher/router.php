<?php
/**
 * The page server's routes (php -S … router.php): /broadcasting/auth is
 * auth.php; /vendor/ serves npm's builds of pusher-js and Laravel Echo
 * from e2e/node_modules (the versions e2e/package.json pins); the rest is
 * the files of this folder.
 */

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/broadcasting/auth') {
    require __DIR__ . '/auth.php';
    return true;
}
$vendor = [
    '/vendor/pusher.min.js' => 'pusher-js/dist/web/pusher.min.js',
    '/vendor/echo.iife.js' => 'laravel-echo/dist/echo.iife.js',
];
if (isset($vendor[$path])) {
    $file = __DIR__ . '/../../e2e/node_modules/' . $vendor[$path];
    if (!is_file($file)) {
        http_response_code(500);
        echo "$file is missing: run (cd e2e && npm ci)\n";
        return true;
    }
    header('Content-Type: text/javascript');
    readfile($file);
    return true;
}
return false;
