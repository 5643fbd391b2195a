<?php

declare(strict_types=1);

namespace Push\Laravel;

use Illuminate\Broadcasting\BroadcastManager;
use Illuminate\Support\ServiceProvider;

/**
 * Registers the `push` broadcasting driver (what `Broadcast::extend()`
 * does, on the manager behind the facade): a connection of
 * config/broadcasting.php with `'driver' => 'push'` gets a PushBroadcaster.
 */
class PushServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        $this->app->make(BroadcastManager::class)->extend(
            'push',
            static fn ($app, array $config): PushBroadcaster => new PushBroadcaster($config),
        );
    }
}
