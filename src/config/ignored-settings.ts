// Dovecot 2.3 settings that Roost accepts but does not use, so a real dovecot.conf loads with one
// warning line per such setting instead of failing. Sources: `doveconf -a` of Dovecot 2.3.19.

/** Top-level settings Roost has no use for (process model, filesystem formats, other protocols). */
export const IGNORED_SETTINGS: ReadonlySet<string> = new Set([
  'default_login_user', 'default_internal_user', 'default_internal_group', 'default_client_limit',
  'default_process_limit', 'default_vsz_limit', 'default_idle_kill', 'mail_attribute_dict',
  'mail_privileged_group', 'mail_access_groups', 'mail_chroot', 'valid_chroot_dirs', 'first_valid_uid',
  'last_valid_uid', 'first_valid_gid', 'last_valid_gid', 'mail_full_filesystem_access', 'mail_temp_dir',
  'mail_temp_scan_interval', 'ssl_dh', 'ssl_cipher_list', 'ssl_cipher_suites', 'ssl_curve_list',
  'ssl_prefer_server_ciphers', 'ssl_ca', 'ssl_verify_client_cert', 'ssl_require_crl',
  'ssl_cert_username_field', 'ssl_options', 'ssl_crypto_device', 'ssl_alt_cert', 'ssl_alt_key',
  'ssl_key_password', 'verbose_proctitle', 'verbose_ssl', 'shutdown_clients', 'version_ignore',
  'instance_name', 'import_environment', 'libexec_dir', 'mmap_disable', 'dotlock_use_excl',
  'mail_nfs_storage', 'mail_nfs_index', 'lock_method', 'mail_max_lock_timeout',
  'mail_prefetch_count', 'mail_save_crlf', 'mail_vsize_bg_after_count', 'mail_sort_max_read_count',
  'mail_attachment_dir', 'mail_attachment_fs', 'mail_attachment_hash', 'mail_attachment_min_size',
  'mail_attachment_detection_options', 'mail_always_cache_fields', 'mail_never_cache_fields',
  'mail_server_comment', 'mail_server_admin', 'mail_shared_explicit_inbox', 'mailbox_list_index',
  'mailbox_list_index_very_dirty_syncs', 'mailbox_list_index_include_inbox', 'mail_plugin_dir',
  'mail_index_rewrite_min_log_bytes', 'mail_index_rewrite_max_log_bytes', 'mail_index_log_rotate_min_size',
  'mail_index_log_rotate_max_size', 'mail_index_log_rotate_min_age', 'mail_index_log2_max_age',
  'mail_log_events', 'mail_log_fields', 'mail_access_groups', 'mailbox_list_index_very_dirty_syncs',
  'auth_cache_size', 'auth_cache_ttl', 'auth_cache_negative_ttl', 'auth_cache_verify_password_with_worker',
  'auth_worker_max_count', 'auth_socket_path', 'auth_proxy_self', 'auth_ssl_require_client_cert',
  'auth_ssl_username_from_cert', 'auth_gssapi_hostname', 'auth_krb5_keytab', 'auth_use_winbind',
  'auth_winbind_helper_path', 'auth_anonymous_username', 'auth_stats', 'auth_internal_failure_delay',
  'auth_username_translation', 'auth_token_secret', 'auth_mechanisms_hidden',
  'login_trusted_networks', 'login_access_sockets', 'login_log_format_elements', 'login_log_format',
  'login_plugin_dir', 'login_plugins', 'login_proxy_max_disconnect_delay', 'login_proxy_notify_path',
  'login_source_ips', 'log_core_filter', 'log_debug',
  'log_dir', 'login_log_format', 'imap_hibernate_timeout',
  'imap_urlauth_logout_format', 'imap_urlauth_stream_user',
  'imap_fetch_failure', 'imap_search_saved_fallback', 'sendmail_path', 'submission_host',
  'rejection_reason', 'rejection_subject', 'deliver_log_format', 'lda_original_recipient_header',
  'hostname_ignore', 'lmtp_proxy', 'lmtp_proxy_rawlog_dir', 'lmtp_rawlog_dir', 'lmtp_user_concurrency_limit',
  'lmtp_address_translate', 'lmtp_client_workarounds',
  'dict_db_config', 'haproxy_trusted_networks', 'haproxy_timeout', 'old_stats_refresh',
  'stats_writer_socket_path', 'ssl_client_ca_dir', 'ssl_client_ca_file', 'ssl_client_cert',
  'ssl_client_key', 'mail_cache_min_mail_count',
  'director_servers', 'director_mail_servers',
  'doveadm_port', 'doveadm_password', 'doveadm_socket_path', 'doveadm_worker_count',
  'doveadm_username', 'doveadm_allowed_commands', 'dsync_remote_cmd', 'replication_max_conns',
  'pop3_uidl_format',
]);

/** Whole families of settings for formats and protocols Roost does not implement. */
export const IGNORED_SETTING_PREFIXES: readonly string[] = [
  'maildir_', 'mbox_', 'mdbox_', 'sdbox_', 'imapc_', 'pop3_', 'pop3c_', 'submission_', 'director_',
  'doveadm_', 'auth_policy_', 'replication_', 'stats_', 'mail_cache_', 'mail_index_', 'fts_', 'quota_',
];

/** Settings inside `service { }` that only matter to Dovecot's process model. */
export const IGNORED_SERVICE_SETTINGS: ReadonlySet<string> = new Set([
  'process_limit', 'process_min_avail', 'vsz_limit', 'service_count', 'user', 'group', 'chroot',
  'executable', 'extra_groups', 'drop_priv_before_exec', 'privileged_group', 'protocol', 'type',
  'idle_kill', 'restart_request_count',
]);

/** Namespace, mailbox and auth-db settings Roost accepts without using. */
export const IGNORED_NAMESPACE_SETTINGS: ReadonlySet<string> = new Set([
  'location', 'ignore_on_failure', 'disabled', 'alias_for', 'order',
]);
export const IGNORED_MAILBOX_SETTINGS: ReadonlySet<string> = new Set([
  'autoexpunge', 'autoexpunge_max_mails', 'comment', 'driver',
]);
export const IGNORED_AUTHDB_SETTINGS: ReadonlySet<string> = new Set(['mechanisms', 'username_filter', 'auth_verbose']);

/** Top-level sections of Dovecot that Roost does not use. */
export const IGNORED_SECTIONS: ReadonlySet<string> = new Set(['dict', 'metric', 'event_exporter', 'doveadm', 'auth_policy']);
