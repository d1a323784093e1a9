// setupFiles of the `sync-bridge` jest project: this test file's sync stores (the IMAP sessions' and
// the push-notification plugin's, on the main thread) go through the storage sync bridge.
process.env.ROOST_SYNC_BRIDGE = 'sqlite';
