<?php
// The reference for roundtrip.php: answers every read on a Unix socket with
// a 21-byte reply (the size of push's PUBLISHED answer); clients one after
// another; stops after 120 s.
$server = stream_socket_server('unix://' . $argv[1]);
echo "ready\n";
$deadline = time() + 120;
while (time() < $deadline && ($c = @stream_socket_accept($server, 60))) {
    $reply = pack('N', 17) . "\x82" . str_repeat("\x00", 16);
    while (($data = fread($c, 65536)) !== false && $data !== '') {
        fwrite($c, $reply);
    }
    fclose($c);
}
