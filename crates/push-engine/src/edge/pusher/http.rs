//! The HTTP API `/apps/{app_id}/…` (to come).
