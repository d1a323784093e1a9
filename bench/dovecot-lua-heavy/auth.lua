-- Lua passdb/userdb of the Lua-heavy profile, consulted after the passwd-file ones
-- (result_success = continue-ok there): it sees every login and every LMTP recipient.
function auth_passdb_lookup(req)
  return dovecot.auth.PASSDB_RESULT_OK, {}
end

function auth_userdb_lookup(req)
  return dovecot.auth.USERDB_RESULT_OK, {}
end
