# shellcheck shell=bash
# Shared set-up for scripts/demo and scripts/test: Python deps in .venv, PostgreSQL + PostGIS reachable.
# Idempotent: a second run only checks. Exports GEO_OFFERS_ADMIN_URL (a superuser URL for creating databases).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
PRIVATE_PORT=54329
mkdir -p "$LOCAL"

say() { printf '\033[1m[geo-offers]\033[0m %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root to run: $*"; fi
}

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
    say "installing ${missing[*]} (apt)"
    apt_get update -qq
    apt_get install -y -qq "${missing[@]}"
}

apt_get() {  # apt-get as root, waiting up to 10 minutes while another apt or dpkg holds its locks
    local out tries=0
    until out="$(as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1)"; do
        # DPkg::Lock::Timeout covers dpkg's lock only; apt-get update's lists lock needs the retry
        if grep -q "Could not get lock" <<<"$out" && [ $((tries += 1)) -le 120 ]; then sleep 5; continue; fi
        printf '%s\n' "$out" >&2
        return 1
    done
}

ensure_python() {
    if ! command -v python3 >/dev/null || ! python3 -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        apt_install python3 python3-venv python3-dev
    fi
    python3 -c 'import sys; assert sys.version_info >= (3, 11)' || die "Python 3.11 or newer is needed"
}

ensure_venv() {
    ensure_python
    [ -x "$VENV/bin/python" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
    local stamp="$VENV/.installed" want
    want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing Python dependencies into .venv"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/requirements.lock" -e "$ROOT[test]"
        echo "$want" > "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

# The browser tests drive Debian's Chromium through Playwright's Python package (never Playwright's own download).
ensure_browser() {
    command -v chromium >/dev/null || apt_install chromium
}

# Node packages of web/ (package-lock.json pins them): axe-core, which the browser tests run in every page they
# check, and Leaflet, which scripts/vendor-web copies into the package. Debian's nodejs/npm when npm is missing.
ensure_web() {
    command -v npm >/dev/null || apt_install nodejs npm
    local stamp="$ROOT/web/node_modules/.installed" want
    want="$(sha256sum "$ROOT/web/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing the pinned web/ packages (npm ci)"
        (cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" > "$stamp"
    fi
}

# Prints "ok", "auth" (server up, login refused) or "down" for a URL.
probe_url() {
    "$VENV/bin/python" - "$1" <<'PY'
import sys, psycopg2
try:
    psycopg2.connect(sys.argv[1], connect_timeout=3).close()
    print("ok")
except psycopg2.OperationalError as exc:
    text = str(exc).lower()
    refused_login = ("password", "authentication", "does not exist", "pg_hba", "role")
    print("auth" if any(word in text for word in refused_login) else "down")
PY
}

sql() {  # sql URL STATEMENT: run one statement, print the first column of the first row
    "$VENV/bin/python" - "$1" "$2" <<'PY'
import sys, psycopg2
conn = psycopg2.connect(sys.argv[1]); conn.autocommit = True
cur = conn.cursor(); cur.execute(sys.argv[2])
row = cur.fetchone() if cur.description else None
print("" if row is None else row[0])
PY
}

ensure_postgis_package() {  # for a local server: install postgresql-<major>-postgis-3 when missing
    local url="$1" major
    if [ "$(sql "$url" "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")" = "0" ]; then
        major="$(sql "$url" "SELECT current_setting('server_version_num')::int / 10000")"
        apt_install "postgresql-$major-postgis-3"
    fi
}

start_private_cluster() {
    apt_install postgresql-15 postgresql-15-postgis-3
    local bin=/usr/lib/postgresql/15/bin data="$LOCAL/pgdata" run_as=()
    [ "$(id -u)" -eq 0 ] && run_as=(runuser -u postgres --)
    if [ ! -s "$data/PG_VERSION" ]; then
        say "initialising a private PostgreSQL cluster in $data (port $PRIVATE_PORT)"
        mkdir -p "$data"
        [ "$(id -u)" -eq 0 ] && { chown postgres:postgres "$data"; chmod o+x "$ROOT" "$LOCAL" 2>/dev/null || true; }
        "${run_as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    if ! "${run_as[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        say "starting the private cluster"
        "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w start \
            -o "-p $PRIVATE_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$data" >/dev/null
    fi
    GEO_OFFERS_ADMIN_URL="postgresql://postgres@127.0.0.1:$PRIVATE_PORT/postgres"
}

ensure_database() {
    if [ -n "${GEO_OFFERS_ADMIN_URL:-}" ]; then
        [ "$(probe_url "$GEO_OFFERS_ADMIN_URL")" = ok ] || die "cannot connect to GEO_OFFERS_ADMIN_URL"
    elif [ -n "${GEO_OFFERS_DATABASE_URL:-}" ]; then
        # A configured database: trust the operator; it must already have PostGIS available.
        [ "$(probe_url "$GEO_OFFERS_DATABASE_URL")" = ok ] || die "cannot connect to GEO_OFFERS_DATABASE_URL"
        GEO_OFFERS_ADMIN_URL="$GEO_OFFERS_DATABASE_URL"
        export GEO_OFFERS_ADMIN_URL
        return 0
    else
        local local_url="postgresql://postgres@127.0.0.1:5432/postgres" state
        state="$(probe_url "$local_url")"
        if [ "$state" = down ] && command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | awk '$3 == 5432' | grep -q .; then
            say "starting the local PostgreSQL cluster on port 5432"
            as_root pg_ctlcluster "$(pg_lsclusters -h | awk '$3 == 5432 {print $1; exit}')" \
                "$(pg_lsclusters -h | awk '$3 == 5432 {print $2; exit}')" start || true
            sleep 1
            state="$(probe_url "$local_url")"
        fi
        case "$state" in
            ok) GEO_OFFERS_ADMIN_URL="$local_url" ;;
            auth)
                # The local server wants a password over TCP: make a superuser for development through the
                # postgres OS account, with a random password kept in .local/.
                [ "$(id -u)" -eq 0 ] || die "the local server refused user postgres; set GEO_OFFERS_ADMIN_URL"
                local pw_file="$LOCAL/pg-admin-password" pw
                [ -s "$pw_file" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$pw_file")
                pw="$(cat "$pw_file")"
                runuser -u postgres -- psql -qAt -c "DO \$\$ BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'geo_offers_admin') THEN
                        CREATE ROLE geo_offers_admin LOGIN SUPERUSER; END IF;
                    ALTER ROLE geo_offers_admin PASSWORD '$pw'; END \$\$;" >/dev/null
                GEO_OFFERS_ADMIN_URL="postgresql://geo_offers_admin:$pw@127.0.0.1:5432/postgres" ;;
            *) start_private_cluster ;;
        esac
    fi
    export GEO_OFFERS_ADMIN_URL
    ensure_postgis_package "$GEO_OFFERS_ADMIN_URL"
}

database_url_for() {  # the admin URL pointed at another database name
    "$VENV/bin/python" -c 'import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).set(database=sys.argv[2]).render_as_string(hide_password=False))' "$GEO_OFFERS_ADMIN_URL" "$1"
}

ensure_named_database() {  # create database $1 with PostGIS if it does not exist; print its URL
    local name="$1" url
    if [ "$(sql "$GEO_OFFERS_ADMIN_URL" "SELECT count(*) FROM pg_database WHERE datname = '$name'")" = "0" ]; then
        say "creating database $name"
        sql "$GEO_OFFERS_ADMIN_URL" "CREATE DATABASE \"$name\"" >/dev/null
    fi
    url="$(database_url_for "$name")"
    sql "$url" "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    echo "$url"
}

remember_setting() {  # remember_setting NAME VALUE: NAME='VALUE' in $ROOT/.env (mode 0600), other lines kept
    local file="$ROOT/.env" name="$1" value="$2" tmp old
    old="$(grep -s "^$name=" "$file" | tail -n 1 || true)"
    [ "$old" = "$name='$value'" ] && return 0
    tmp="$(mktemp "$ROOT/.env.XXXXXX")"  # mktemp makes it 0600: the URL may hold a password
    if [ -f "$file" ]; then grep -v "^$name=" "$file" > "$tmp" || true; fi
    printf "%s='%s'\n" "$name" "$value" >> "$tmp"
    mv "$tmp" "$file"
    if [ -n "$old" ]; then say "$name in .env changed (it was ${old#*=})"; else say "wrote $name to .env"; fi
}
