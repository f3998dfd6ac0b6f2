#!/usr/bin/env bash
# A real, minimal OpenStack on 127.0.0.1 from Debian 12's packages, for the openstack builder's
# integration tests: Keystone and Placement under uwsgi, Glance (file store), Nova (api,
# conductor, scheduler, compute with libvirt and virt_type = qemu: a real snapshot), Neutron
# (API only: ML2 without mechanism drivers), RabbitMQ and MariaDB. No systemd. Run as root.
#   bash tests/testbed/openstack.sh          # install once per machine, start unless answering
#   bash tests/testbed/openstack.sh stop     # stop what this script started (by PID files)
#   bash tests/testbed/openstack.sh status   # exit status 0 when the stack answers
# Environment: PYBUILD_TESTBED_OPENSTACK (default /var/lib/pybuild-testbed/openstack).
#
# All state lives under that one directory: configuration (etc/), PID files (run/), logs
# (log/), a private MariaDB (mysql/, unix socket only, never /etc/mysql or /var/lib/mysql),
# RabbitMQ's node (rabbitmq/), Glance's images, Nova's instances, Keystone's keys, the base
# image and clouds.yaml (mode 0600) with the clouds `local` (admin) and `local-demo` (demo).
# Outside it: the packages, libvirt's own /run/libvirt and the domain XML under
# /etc/libvirt/qemu while a server exists.
#
# Ports, all on 127.0.0.1: 5000 Keystone, 9292 Glance, 8774 Nova, 8778 Placement,
# 9696 Neutron, 5672 RabbitMQ (and its Erlang distribution port 25672, epmd 4369).
#
# A start stops what a previous run left (a stack that no longer answers, or one started by
# another version of this script), then starts from empty databases with new random
# passwords: about a minute. When the stack answers and was started by this very script it
# returns at once; "this very script" is the first 16 hex digits of its sha256 in run/ready,
# so editing it restarts the stack on the next run. About 1.6 GB of memory (PSS), printed.
# The script's own API calls use Debian's python3-openstacksdk (installed with the packages),
# not the project's .venv, which CI creates after the testbed. Packages are installed with a
# policy-rc.d that refuses every service start (removed again if this script made it);
# stop also destroys the libvirt domains whose disks are under this directory.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
B="${PYBUILD_TESTBED_OPENSTACK:-/var/lib/pybuild-testbed/openstack}"
ETC="$B/etc"
RUN="$B/run"
LOG="$B/log"
DBSOCK="$RUN/mysqld/mysqld.sock"
READY="$RUN/ready"
KS=http://127.0.0.1:5000
export DEBIAN_FRONTEND=noninteractive

say() { printf '[testbed] %s\n' "$*"; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }


PACKAGES=(keystone glance placement-api nova-api nova-conductor nova-scheduler nova-compute
  neutron-server rabbitmq-server mariadb-server libvirt-daemon-system qemu-system-x86 qemu-utils
  uwsgi-plugin-python3 python3-pymysql python3-openstacksdk curl)

# Everything this script may start (a PID file each in run/).
SERVICES=(mariadb epmd rabbitmq keystone placement glance neutron-server nova-api
  nova-conductor nova-scheduler virtlogd libvirtd nova-compute)

install_packages() {
  local missing=() made_policy=0
  # One dpkg-query for all: the packages not "install ok installed".
  mapfile -t missing < <(
    { dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true; } \
      | awk -v want="${PACKAGES[*]}" '$2 " " $3 " " $4 == "install ok installed" { ok[$1] = 1 }
          END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }'
  )
  if [ ${#missing[@]} -eq 0 ]; then
    say "openstack packages: all present"
    return
  fi
  say "openstack packages: installing ${missing[*]}"
  # Nothing may start on install (the packages would start system-wide services on 0.0.0.0);
  # every openstack-pkg-tools debconf question defaults to "no", so no preseed is needed.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  { apt-get update -q && apt-get install -y -q -o DPkg::Lock::Timeout=600 \
      --no-install-recommends "${missing[@]}"; } >"$B/apt.log" 2>&1 || rc=$?
  [ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  if [ "$rc" != 0 ]; then
    tail -n 30 "$B/apt.log" >&2
    die "apt-get install ${missing[*]} failed (see $B/apt.log)"
  fi
}

recipe() { sha256sum "$HERE/openstack.sh" | cut -c1-16; }

# --- processes --------------------------------------------------------------------------

# start NAME COMMAND...: in its own session (its PID is the process group), output to log/.
start() {
  local name="$1"
  shift
  setsid "$@" </dev/null >"$LOG/$name.out" 2>&1 9>&- &  # 9: the lock, not for daemons
  echo $! >"$RUN/$name.pid"
}

alive() { [ -s "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# stop_all NAME...: SIGTERM to each process group at once, SIGKILL to what is left after 15 s.
stop_all() {
  local name pid pids=() i left
  for name in "$@"; do
    [ -s "$RUN/$name.pid" ] || continue
    pid="$(cat "$RUN/$name.pid")"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  for i in $(seq 1 60); do
    left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for name in "$@"; do rm -f "$RUN/$name.pid"; done
}

virsh_() { virsh -c qemu:///system "$@"; }

# Libvirt domains whose disks are under this directory (Nova's servers), destroyed and
# undefined; other domains on the machine are left alone.
remove_our_domains() {
  local dom
  virsh_ version >/dev/null 2>&1 || return 0
  for dom in $(virsh_ list --all --name 2>/dev/null); do
    if virsh_ domblklist "$dom" --details 2>/dev/null | grep -q " $B/nova/instances/"; then
      virsh_ destroy "$dom" >/dev/null 2>&1 || true
      virsh_ undefine "$dom" --nvram >/dev/null 2>&1 || virsh_ undefine "$dom" >/dev/null 2>&1 || true
    fi
  done
}

stop_stack() {
  rm -f "$READY"
  remove_our_domains
  stop_all nova-compute nova-scheduler nova-conductor nova-api neutron-server glance placement \
    keystone libvirtd virtlogd
  stop_all rabbitmq
  stop_all epmd mariadb
}

wait_until() {  # wait_until SECONDS WHAT COMMAND...: poll every 0.25 s
  local seconds="$1" what="$2" i
  shift 2
  for i in $(seq 1 $((seconds * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  die "$what did not come up within $seconds s (logs: $LOG)"
}

http_answers() { curl -s -m 2 -o /dev/null "$1"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
sql() { mariadb --no-defaults -S "$DBSOCK" -uroot -N "$@"; }
db_answers() { mariadb-admin --no-defaults -S "$DBSOCK" -uroot ping; }

# The stack this script started answers: every process alive, MariaDB pings, Keystone issues
# an admin token, every other API answers.
stack_answers() {
  local s url
  [ -s "$READY" ] && [ "$(cat "$READY")" = "$(recipe)" ] || return 1
  [ -s "$ETC/passwords" ] || return 1
  for s in "${SERVICES[@]}"; do
    case "$s" in epmd | virtlogd | libvirtd) [ -s "$RUN/$s.pid" ] || continue ;; esac
    alive "$s" || return 1
  done
  db_answers >/dev/null 2>&1 || return 1
  # shellcheck source=/dev/null
  . "$ETC/passwords"
  [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "$(token_request admin "$ADMIN_PW" admin)" "$KS/v3/auth/tokens")" = 201 ] || return 1
  for url in http://127.0.0.1:9292 http://127.0.0.1:8774 http://127.0.0.1:8778 \
    http://127.0.0.1:9696; do
    http_answers "$url" || return 1
  done
}

token_request() {
  printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"%s","domain":{"id":"default"},"password":"%s"}}},"scope":{"project":{"name":"%s","domain":{"id":"default"}}}}}' \
    "$1" "$2" "$3"
}

# Debian's python3 and python3-openstacksdk, away from the caller's OS_* and clouds.yaml.
sdk_python() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$B" LANG=C.UTF-8 /usr/bin/python3 - "$@"
}

# --- configuration ------------------------------------------------------------------------

make_passwords() {
  p() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
  umask 077
  printf 'ADMIN_PW=%s\nDEMO_PW=%s\nSERVICE_PW=%s\nDB_PW=%s\n' "$(p)" "$(p)" "$(p)" "$(p)" \
    >"$ETC/passwords"
  umask 022
}

auth_section() {  # keystone_authtoken-style credentials of service user $1
  printf 'auth_url = %s\nauth_type = password\nproject_domain_name = Default\n' "$KS"
  printf 'user_domain_name = Default\nproject_name = service\nusername = %s\n' "$1"
  printf 'password = %s\nregion_name = RegionOne\n' "$SERVICE_PW"
}

write_configs() {
  local db="mysql+pymysql://os:$DB_PW@localhost" q="?unix_socket=$DBSOCK"
  mkdir -p "$ETC"/{keystone,placement,glance,neutron,nova,rabbitmq}
  umask 077
  cat >"$ETC/keystone/keystone.conf" <<EOC
[DEFAULT]
log_file = $LOG/keystone.log
[database]
connection = $db/keystone$q
[token]
provider = fernet
[fernet_tokens]
key_repository = $B/keystone/fernet-keys
[credential]
key_repository = $B/keystone/credential-keys
EOC
  cat >"$ETC/placement/placement.conf" <<EOC
[DEFAULT]
log_file = $LOG/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $db/placement$q
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_section placement)
EOC
  cat >"$ETC/glance/glance-api.conf" <<EOC
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
graceful_shutdown_timeout = 5
workers = 1
log_file = $LOG/glance-api.log
enabled_backends = fs:file
[database]
connection = $db/glance$q
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $B/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $B/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $B/glance/tasks
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $B/lock
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_section glance)
EOC
  # "router" only so that Port.port_forwardings gets mapped (see the warm-up in make_resources).
  cat >"$ETC/neutron/neutron.conf" <<EOC
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9696
graceful_shutdown_timeout = 5
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
api_paste_config = /etc/neutron/api-paste.ini
transport_url = rabbit://guest:guest@127.0.0.1:5672/
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
log_file = $LOG/neutron-server.log
state_path = $B/neutron
[database]
connection = $db/neutron$q
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_section neutron)
[oslo_concurrency]
lock_path = $B/lock
EOC
  printf '[ml2]\ntype_drivers = flat\ntenant_network_types =\nmechanism_drivers =\nextension_drivers =\n' \
    >"$ETC/neutron/ml2_conf.ini"
  cat >"$ETC/nova/nova.conf" <<EOC
[DEFAULT]
my_ip = 127.0.0.1
graceful_shutdown_timeout = 5
host = $(hostname)
state_path = $B/nova
log_dir = $LOG
transport_url = rabbit://guest:guest@127.0.0.1:5672/
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
[api]
auth_strategy = keystone
[api_database]
connection = $db/nova_api$q
[database]
connection = $db/nova$q
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[keystone_authtoken]
www_authenticate_uri = $KS
$(auth_section nova)
[placement]
$(auth_section nova)
[neutron]
$(auth_section nova)
[glance]
region_name = RegionOne
[vnc]
enabled = false
[oslo_concurrency]
lock_path = $B/lock
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
EOC
  # A guest that never answers ACPI (the base image is an empty disk) is destroyed after 3 s.
  cat >"$ETC/nova/nova-compute.conf" <<EOC
[DEFAULT]
compute_driver = libvirt.LibvirtDriver
shutdown_timeout = 3
[libvirt]
virt_type = qemu
cpu_mode = none
EOC
  cat >"$ETC/rabbitmq/rabbitmq.conf" <<EOC
listeners.tcp.default = 127.0.0.1:5672
EOC
  : >"$ETC/rabbitmq/rabbitmq-env.conf"
  echo '[].' >"$ETC/rabbitmq/enabled_plugins"
  umask 022
}

# --- phases -------------------------------------------------------------------------------

start_mariadb() {
  if [ ! -d "$B/mysql/mysql" ]; then
    rm -rf "$B/mysql"
    mkdir -p "$B/mysql"
    chown mysql: "$B/mysql"
    mariadb-install-db --no-defaults --user=mysql --datadir="$B/mysql" --skip-test-db \
      --auth-root-authentication-method=socket >"$LOG/mariadb-install-db.log" 2>&1 \
      || die "mariadb-install-db failed (see $LOG/mariadb-install-db.log)"
  fi
  mkdir -p "$RUN/mysqld"
  chown mysql: "$RUN/mysqld"  # the socket and mariadbd's own PID file
  start mariadb /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$B/mysql" \
    --socket="$DBSOCK" --pid-file="$RUN/mysqld/mariadbd.pid" --skip-networking \
    --log-error="$LOG/mariadb.log" --innodb-buffer-pool-size=64M --max-connections=500
  wait_until 60 MariaDB db_answers
  local name
  for name in keystone glance placement nova_api nova nova_cell0 neutron; do
    echo "DROP DATABASE IF EXISTS $name; CREATE DATABASE $name;"
  done | sql
  sql -e "DROP USER IF EXISTS 'os'@'localhost'; CREATE USER 'os'@'localhost' IDENTIFIED BY '$DB_PW';
    GRANT ALL PRIVILEGES ON *.* TO 'os'@'localhost'; FLUSH PRIVILEGES;"
}

RABBIT_ENV=(env HOME="$B/rabbitmq" ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=rabbit@localhost \
    RABBITMQ_CONF_ENV_FILE="$ETC/rabbitmq/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$ETC/rabbitmq/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$B/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$LOG" \
    RABBITMQ_DIST_PORT=25672 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")

start_rabbitmq() {
  # epmd: reuse one that runs already, else ours (loopback only).
  if ! epmd -names >/dev/null 2>&1; then
    start epmd epmd -address 127.0.0.1
    wait_until 10 epmd epmd -names
  fi
  rm -rf "$B/rabbitmq/mnesia"
  mkdir -p "$B/rabbitmq"
  start rabbitmq "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
  wait_until 90 RabbitMQ port_open 5672
}

db_syncs() {  # in the background while Keystone starts
  local nova=(--config-file "$ETC/nova/nova.conf")
  placement-manage --config-file "$ETC/placement/placement.conf" db sync
  glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync
  neutron-db-manage --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/ml2_conf.ini" upgrade heads
  nova-manage "${nova[@]}" api_db sync
  nova-manage "${nova[@]}" cell_v2 map_cell0 \
    --database_connection "mysql+pymysql://os:$DB_PW@localhost/nova_cell0?unix_socket=$DBSOCK"
  nova-manage "${nova[@]}" cell_v2 create_cell --name cell1
  nova-manage "${nova[@]}" db sync
}

start_keystone() {
  local conf=(--config-file "$ETC/keystone/keystone.conf")
  rm -rf "$B/keystone"
  mkdir -p "$B/keystone"
  {
    keystone-manage "${conf[@]}" db_sync \
      && keystone-manage "${conf[@]}" fernet_setup --keystone-user root --keystone-group root \
      && keystone-manage "${conf[@]}" credential_setup --keystone-user root --keystone-group root \
      && keystone-manage "${conf[@]}" bootstrap --bootstrap-password "$ADMIN_PW" \
        --bootstrap-region-id RegionOne --bootstrap-admin-url "$KS/v3/" \
        --bootstrap-internal-url "$KS/v3/" --bootstrap-public-url "$KS/v3/"
  } >"$LOG/keystone-manage.log" 2>&1 || die "keystone-manage failed (see $LOG/keystone-manage.log)"
  # uwsgi's keep-alive breaks openstacksdk's pooled connections: Connection: close.
  start keystone env OS_KEYSTONE_CONFIG_DIR="$ETC/keystone" uwsgi --plugin python3 \
    --http-socket 127.0.0.1:5000 --wsgi-file /usr/bin/keystone-wsgi-public --master \
    --processes 2 --threads 2 --die-on-term --buffer-size 65535 --add-header 'Connection: close'
  wait_until 60 Keystone http_answers "$KS/v3"
}

register_catalog() {
  sdk_python "$ADMIN_PW" "$SERVICE_PW" <<'EOP' >"$LOG/catalog.log" 2>&1 \
    || die "registering the catalog failed (see $LOG/catalog.log)"
import sys
import openstack

admin_pw, service_pw = sys.argv[1:3]
c = openstack.connect(auth_url="http://127.0.0.1:5000/v3", username="admin", password=admin_pw,
                      project_name="admin", user_domain_name="Default",
                      project_domain_name="Default", region_name="RegionOne")
idc = c.identity
service = idc.create_project(name="service", domain_id="default")
admin = idc.find_role("admin")
srole = idc.find_role("service") or idc.create_role(name="service")
for name in ("glance", "nova", "placement", "neutron"):
    user = idc.create_user(name=name, password=service_pw, domain_id="default")
    idc.assign_project_role_to_user(service, user, admin)
    idc.assign_project_role_to_user(service, user, srole)
for name, kind, url in [
    ("glance", "image", "http://127.0.0.1:9292"),
    ("nova", "compute", "http://127.0.0.1:8774/v2.1"),
    ("placement", "placement", "http://127.0.0.1:8778"),
    ("neutron", "network", "http://127.0.0.1:9696"),
]:
    s = idc.create_service(name=name, type=kind)
    for iface in ("public", "internal", "admin"):
        idc.create_endpoint(service_id=s.id, interface=iface, url=url, region_id="RegionOne")
EOP
}

start_services() {
  local nova=(--config-file "$ETC/nova/nova.conf")
  start placement env OS_PLACEMENT_CONFIG_DIR="$ETC/placement" uwsgi --plugin python3 \
    --http-socket 127.0.0.1:8778 --wsgi-file /usr/bin/placement-api --master --processes 1 \
    --threads 4 --die-on-term --buffer-size 65535 --add-header 'Connection: close'
  start glance glance-api --config-file "$ETC/glance/glance-api.conf"
  start neutron-server neutron-server --config-file "$ETC/neutron/neutron.conf" \
    --config-file "$ETC/neutron/ml2_conf.ini"
  start nova-api nova-api "${nova[@]}"
  start nova-conductor nova-conductor "${nova[@]}"
  start nova-scheduler nova-scheduler "${nova[@]}"
  # libvirtd on its unix sockets only: reuse one that answers, else ours.
  if ! virsh_ version >/dev/null 2>&1; then
    start virtlogd virtlogd
    start libvirtd libvirtd
    wait_until 30 libvirtd virsh_ version
  fi
  remove_our_domains  # left by a run that was not stopped (a reboot, a SIGKILL)
  start nova-compute nova-compute "${nova[@]}" --config-file "$ETC/nova/nova-compute.conf"
  local url
  for url in http://127.0.0.1:8778 http://127.0.0.1:9292 http://127.0.0.1:9696 \
    http://127.0.0.1:8774; do
    wait_until 90 "$url" http_answers "$url"
  done
}

compute_node_up() { [ "$(sql -e 'SELECT COUNT(*) FROM nova.compute_nodes')" -ge 1 ]; }

register_compute() {
  wait_until 120 "nova-compute's node" compute_node_up
  nova-manage --config-file "$ETC/nova/nova.conf" cell_v2 discover_hosts \
    >>"$LOG/nova-manage.log" 2>&1 || die "nova-manage cell_v2 discover_hosts failed"
}

make_resources() {
  [ -s "$B/base.qcow2" ] || qemu-img create -q -f qcow2 "$B/base.qcow2" 64M
  sdk_python "$ADMIN_PW" "$DEMO_PW" "$B/base.qcow2" <<'EOP' >"$LOG/resources.log" 2>&1 \
    || die "creating the flavor, the demo user or the image failed (see $LOG/resources.log)"
import sys
import openstack

admin_pw, demo_pw, base = sys.argv[1:4]
c = openstack.connect(auth_url="http://127.0.0.1:5000/v3", username="admin", password=admin_pw,
                      project_name="admin", user_domain_name="Default",
                      project_domain_name="Default", region_name="RegionOne")
# Debian's neutron 21.0.0: the first GET /v2.0/ports of a fresh API worker fails with "type
# object 'Port' has no attribute 'port_forwardings'" (SQLAlchemy mappers not configured yet).
# Any other query configures them first; one API worker, so one warm-up.
list(c.network.networks())
list(c.network.ports())
c.compute.create_flavor(name="m1.tiny", ram=512, vcpus=1, disk=1)
idc = c.identity
demo = idc.create_project(name="demo", domain_id="default")
user = idc.create_user(name="demo", password=demo_pw, domain_id="default",
                       default_project_id=demo.id)
member = idc.find_role("member") or idc.create_role(name="member")
idc.assign_project_role_to_user(demo, user, member)
# An empty 64 MiB qcow2 disk: the guest sits at "no bootable device", which Nova calls ACTIVE,
# and a snapshot of it is a real qemu-img convert and upload.
c.create_image("pybuild-base", filename=base, disk_format="qcow2", container_format="bare",
               visibility="public", wait=True)
EOP
}

write_clouds_yaml() {
  local cloud user pw project
  umask 077
  {
    echo "# Written by tests/testbed/openstack.sh; the stack on 127.0.0.1."
    echo "clouds:"
    for cloud in local local-demo; do
      if [ "$cloud" = local ]; then user=admin pw="$ADMIN_PW"; else user=demo pw="$DEMO_PW"; fi
      project="$user"
      cat <<EOC
  $cloud:
    auth:
      auth_url: $KS/v3
      username: $user
      password: $pw
      project_name: $project
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
EOC
    done
  } >"$B/clouds.yaml.tmp"
  mv "$B/clouds.yaml.tmp" "$B/clouds.yaml"
  umask 022
}

# Memory of everything this script started (the sessions from the PID files): the sum of
# each process's proportional set size, so pages shared between workers count once.
memory_mb() {
  local s sids=() pid total=0 kb
  for s in "${SERVICES[@]}"; do alive "$s" && sids+=("$(cat "$RUN/$s.pid")"); done
  [ ${#sids[@]} -gt 0 ] || { echo 0; return; }
  for pid in $(ps -o pid= --sid "$(IFS=,; echo "${sids[*]}")"); do
    kb="$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)"
    total=$((total + ${kb:-0}))
  done
  echo $((total / 1024))
}

cold_start() {
  local t sync
  stop_stack
  mkdir -p "$RUN" "$LOG" "$ETC" "$B/lock" "$B/glance"/{images,staging,tasks} "$B/neutron" \
    "$B/nova/instances"
  rm -rf "$B/glance/images"/* "$B/nova/instances"/* "$B/clouds.yaml"
  t="$(now)"
  make_passwords
  # shellcheck source=/dev/null
  . "$ETC/passwords"
  write_configs
  say "phase openstack configs: $(took "$t") s"
  t="$(now)"; start_mariadb; say "phase openstack mariadb: $(took "$t") s"
  t="$(now)"; start_rabbitmq; say "phase openstack rabbitmq: $(took "$t") s"
  db_syncs >"$LOG/db-sync.log" 2>&1 9>&- &
  sync=$!
  t="$(now)"; start_keystone; register_catalog; say "phase openstack keystone: $(took "$t") s"
  t="$(now)"
  wait "$sync" || die "a database sync failed (see $LOG/db-sync.log)"
  say "phase openstack db syncs (waited): $(took "$t") s"
  t="$(now)"; start_services; say "phase openstack services: $(took "$t") s"
  t="$(now)"; register_compute; say "phase openstack compute node: $(took "$t") s"
  t="$(now)"; make_resources; say "phase openstack flavor, demo user, image: $(took "$t") s"
  write_clouds_yaml
  recipe >"$READY"
}

main() {
  local cmd="${1:-start}" t0 t
  [ "$(id -u)" -eq 0 ] || die "run as root (installs packages, starts services)"
  case "$cmd" in start | stop | status) ;; *) die "usage: openstack.sh [start|stop|status]" ;; esac
  mkdir -p "$B" "$RUN"
  exec 9>"$B/.lock"
  flock 9  # one start or stop at a time on this machine
  if [ "$cmd" = status ]; then
    stack_answers && { say "openstack: answering on 127.0.0.1"; exit 0; }
    say "openstack: not answering"
    exit 1
  fi
  if [ "$cmd" = stop ]; then
    t="$(now)"; stop_stack; say "openstack: stopped in $(took "$t") s"
    exit 0
  fi
  t0="$(now)"
  t="$(now)"; install_packages; say "phase openstack packages: $(took "$t") s"
  if stack_answers; then
    say "openstack: already answering on 127.0.0.1 (memory $(memory_mb) MB PSS)"
  else
    cold_start
    say "openstack: memory $(memory_mb) MB (PSS)"
  fi
  say "openstack ready in $(took "$t0") s; clouds.yaml: $B/clouds.yaml"
}

main "$@"
