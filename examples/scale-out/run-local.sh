#!/bin/sh
# The scale-out example without containers (README "Scaling out"): two Roost nodes of this
# checkout on one PostgreSQL database, HAProxy in front, everything on loopback.
#   ROOST_PGSQL='host=127.0.0.1 port=5432 dbname=roost user=roost password=roost' examples/scale-out/run-local.sh
# Needs a built checkout (npm install), a PostgreSQL database the connect string reaches (an
# empty one: `roost migrate` creates the tables) and haproxy on the PATH (Debian: apt-get
# install haproxy). IMAP on 127.0.0.1:10143 and LMTP on 127.0.0.1:10024 through HAProxy; the
# nodes themselves on 11143/12024 (a) and 21143/22024 (b). Ctrl-C stops everything.
set -eu
: "${ROOST_PGSQL:?set ROOST_PGSQL to the PostgreSQL connect string (Dovecot syntax)}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${SCALE_OUT_DIR:-$(mktemp -d /tmp/roost-scale-out.XXXXXX)}
roost() { node "$root/dist/src/cli/main.js" -c "$here/roost.conf" -o "mail_location=pgsql:$ROOST_PGSQL" -o "data_dir=$work/$node" -o "mail_home=$work/home/%d/%n" -o listen=127.0.0.1 "$@"; }

node=a
mkdir -p "$work/a" "$work/b"
roost migrate
roost user add "${ROOST_USER:-alice}" -p "${ROOST_PASSWORD:-secret}" 2>/dev/null || true

# Everything started from here is in this script's process group: stop it all together.
trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT
node=a; roost -o service/imap-login/inet_listener/imap/port=11143 -o service/lmtp/inet_listener/lmtp/port=12024 serve &
node=b; roost -o service/imap-login/inet_listener/imap/port=21143 -o service/lmtp/inet_listener/lmtp/port=22024 serve &

sed -e 's/\*:143/127.0.0.1:10143/; s/\*:24$/127.0.0.1:10024/' \
    -e 's/roost-a:1143/127.0.0.1:11143/; s/roost-b:1143/127.0.0.1:21143/' \
    -e 's/roost-a:2424/127.0.0.1:12024/; s/roost-b:2424/127.0.0.1:22024/' \
    "$here/haproxy.cfg" > "$work/haproxy.cfg"
haproxy -f "$work/haproxy.cfg" &
echo "scale-out: IMAP 127.0.0.1:10143, LMTP 127.0.0.1:10024 (nodes a: 11143/12024, b: 21143/22024; data under $work)"
wait
