#!/bin/bash
# openstack-up.sh DIR — a minimal, real OpenStack Zed (Debian 12 packages) for
# ferry's tests, every daemon a plain background process on 127.0.0.1:
# MariaDB, RabbitMQ, Keystone, Glance (RBD), Placement, Nova (fake driver),
# Neutron (ML2 + tests/lab/labbind.py, no agents), Cinder (RBD), on the
# project's own single-node Ceph (tests/lab/ceph-start.sh DIR/ceph PORT).
# DIR is wiped (except DIR/ensure.log and dot files, e.g. the .lock) and rebuilt; PIDs go to DIR/pids, logs to
# DIR/log.  Writes DIR/clouds.yaml, DIR/env and, last, DIR/ready.
# Stop with openstack-down.sh DIR.  Usually called through openstack-lab.sh.
# Env: LAB_PASSWORD (default labpass), FERRY_OSLAB_CEPH_PORT (default 6789).
# Ceph client of cinder and glance: client.admin (simple; a throwaway lab).
set -euo pipefail
shopt -s inherit_errexit   # a failing $(...) stops the script too
trap 'echo "[up] ERROR: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
HERE=$(cd "$(dirname "$0")" && pwd)
S=${1:?usage: openstack-up.sh DIR}
PW=${LAB_PASSWORD:-labpass}
IP=127.0.0.1
KS=http://$IP:5000
DB="mysql+pymysql://os:$PW@$IP:13306"
RMQ="rabbit://guest:guest@$IP:5672/"
CEPH_PORT=${FERRY_OSLAB_CEPH_PORT:-6789}
T0=$(date +%s); TP=$T0
phase() { local n; n=$(date +%s); echo "[up] $1: $((n-TP))s (total $((n-T0))s)"; TP=$n; }
die() { echo "[up] ERROR: $*" >&2; exit 1; }

# ---- 0. refuse to run over live processes or taken ports; fresh DIR ----------
mkdir -p "$S"; S=$(cd "$S" && pwd -P)
[ ${#S} -le 70 ] || die "DIR too long (ceph admin sockets need short paths)"
case $S in *:*|*' '*) die "DIR must not contain ':' or spaces";; esac
if [ -n "$(find "$S" -mindepth 1 -maxdepth 1 ! -name '.*' ! -name ensure.log)" ] && [ ! -f "$S/.ferry-oslab" ]; then
  die "$S is not empty and not a ferry OpenStack lab dir"
fi
for f in "$S"/pids/* "$S"/ceph/pids/*; do
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && die "$(basename "$f") still runs: openstack-down.sh $S first"
done
for port in 13306 4369 5672 25672 5000 8774 8776 8778 9292 9696 "$CEPH_PORT"; do
  ss -Hltn "sport = :$port" | grep -q . && die "port $port already in use"
done
find "$S" -mindepth 1 -maxdepth 1 ! -name '.*' ! -name ensure.log -exec rm -rf {} +
touch "$S/.ferry-oslab"; mkdir -p "$S"/{pids,log,run,etc,lock}

# start NAME CMD...: background process in its own session (openstack-down.sh
# kills the whole group, e.g. uwsgi workers); PID file NN-NAME (stop order).
N=10
start() { local n=$1; shift; setsid "$@" >>"$S/log/$n.out" 2>&1 </dev/null & echo $! >"$S/pids/$N-$n"; N=$((N+1)); }
wait_http() { # URL [SECONDS] — any HTTP answer counts
  for _ in $(seq "${2:-180}"); do curl -s -o /dev/null -m 3 "$1" && return 0; sleep 1; done; die "$1 never answered"; }

# ---- 1. Ceph: pools 'volumes' (cinder) and 'images' (glance) ------------------
"$HERE/ceph-start.sh" "$S/ceph" "$CEPH_PORT" >"$S/log/ceph-start.log" 2>&1 ||
  { tail -20 "$S/log/ceph-start.log" >&2; die "ceph start failed"; }
CEPH_CONF=$S/ceph/ceph.conf
for pool in volumes images; do
  ceph -c "$CEPH_CONF" osd pool create $pool 8 8 >/dev/null 2>&1
  rbd -c "$CEPH_CONF" pool init $pool
done
CEPH_FSID=$(ceph -c "$CEPH_CONF" fsid)
phase "ceph ready ($CEPH_CONF, port $CEPH_PORT)"

# ---- 2. MariaDB (own datadir, TCP 13306 on loopback, durability off for speed)
mariadb-install-db --no-defaults --datadir="$S/mysql" --user=root --skip-test-db \
  --auth-root-authentication-method=socket >"$S/log/mariadb-install.log" 2>&1
start mariadb mariadbd --no-defaults --datadir="$S/mysql" --user=root \
  --socket="$S/run/mysqld.sock" --port=13306 --bind-address=$IP --skip-name-resolve \
  --pid-file="$S/run/mysqld.pid" --log-error="$S/log/mariadb.log" --max-connections=1000 \
  --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
for _ in $(seq 60); do mariadb-admin --no-defaults --socket="$S/run/mysqld.sock" ping >/dev/null 2>&1 && break; sleep 1; done
{ for d in keystone glance cinder neutron nova_api nova nova_cell0 placement; do echo "CREATE DATABASE $d;"; done
  echo "CREATE USER 'os'@'$IP' IDENTIFIED BY '$PW'; GRANT ALL ON *.* TO 'os'@'$IP';"
} | mariadb --no-defaults --socket="$S/run/mysqld.sock" -uroot || die "mariadb setup failed"
phase "mariadb"

# ---- 3. RabbitMQ (guest/guest works from loopback), epmd and dist on loopback --
mkdir -p "$S/rabbitmq"
cat >"$S/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = $IP:5672
loopback_users.guest = true
disk_free_limit.absolute = 50MB
EOF
echo '[].' >"$S/rabbitmq/enabled_plugins"; : >"$S/rabbitmq/env.conf"
(
  export HOME=$S/rabbitmq ERL_EPMD_ADDRESS=$IP RABBITMQ_NODENAME=rabbit@localhost \
    RABBITMQ_CONF_ENV_FILE=$S/rabbitmq/env.conf RABBITMQ_CONFIG_FILE=$S/rabbitmq/rabbitmq.conf \
    RABBITMQ_ENABLED_PLUGINS_FILE=$S/rabbitmq/enabled_plugins RABBITMQ_MNESIA_BASE=$S/rabbitmq/mnesia \
    RABBITMQ_LOG_BASE=$S/log/rabbitmq RABBITMQ_DIST_PORT=25672 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  start epmd epmd -address $IP -port 4369
  start rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
  echo $N >"$S/run/N"
)
N=$(cat "$S/run/N")
# (services retry until the broker accepts them)

# ---- 4. config files ------------------------------------------------------------
authtoken() { cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = svc
password = $PW
service_token_roles_required = true
EOF
}
svcauth() { # [section] with the service user's credentials
  printf '[%s]\nauth_url = %s\nauth_type = password\nproject_domain_name = Default\nuser_domain_name = Default\nproject_name = service\nusername = svc\npassword = %s\nregion_name = RegionOne\n' "$1" "$KS" "$PW"; }
mkdir -p "$S"/etc/{keystone,glance,placement,nova,neutron,cinder} "$S"/keystone/{fernet,credential} \
  "$S"/glance/staging "$S"/glance/tasks "$S"/nova/instances "$S"/neutron "$S"/cinder "$S"/pylib

cat >"$S/etc/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $S/log/keystone.log
[database]
connection = $DB/keystone
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $S/keystone/fernet
[fernet_receipts]
key_repository = $S/keystone/fernet
[credential]
key_repository = $S/keystone/credential
EOF

cat >"$S/etc/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $IP
bind_port = 9292
workers = 1
show_image_direct_url = true
show_multiple_locations = true
node_staging_uri = file://$S/glance/staging
enabled_import_methods = [glance-direct,web-download]
[database]
connection = $DB/glance
[glance_store]
stores = rbd
default_store = rbd
rbd_store_pool = images
rbd_store_user = admin
rbd_store_ceph_conf = $CEPH_CONF
rbd_store_chunk_size = 8
[os_glance_staging_store]
filesystem_store_datadir = $S/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $S/glance/tasks
[paste_deploy]
flavor = keystone
config_file = /usr/share/glance-common/glance-api-paste.ini
$(authtoken)
EOF

cat >"$S/etc/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $S/log/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $DB/placement
$(authtoken)
EOF

cat >"$S/etc/nova/nova.conf" <<EOF
[DEFAULT]
host = lab
my_ip = $IP
state_path = $S/nova
instances_path = $S/nova/instances
transport_url = $RMQ
compute_driver = fake.FakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = $IP
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = /usr/share/nova-common/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[oslo_concurrency]
lock_path = $S/lock
[vnc]
enabled = false
[serial_console]
enabled = false
[spice]
enabled = false
[glance]
api_servers = http://$IP:9292
$(authtoken)
$(svcauth placement)
$(svcauth neutron)
$(svcauth cinder)
os_region_name = RegionOne
# Zed + OSSA-2023-003: cinder lets nova detach/delete attachments only when
# nova also sends a service token (X-Service-Token) of a user in role 'service'.
$(svcauth service_user)
send_service_user_token = true
EOF
# DB settings only for api/conductor/scheduler/nova-manage: nova-compute must not have them
printf '[api_database]\nconnection = %s\n[database]\nconnection = %s\n' "$DB/nova_api" "$DB/nova" >"$S/etc/nova/nova-db.conf"

cat >"$S/etc/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = $IP
bind_port = 9696
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = $RMQ
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
state_path = $S/neutron
api_paste_config = /usr/share/neutron-common/api-paste.ini
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
[database]
connection = $DB/neutron
[oslo_concurrency]
lock_path = $S/lock
$(authtoken)
$(svcauth nova)
EOF
cat >"$S/etc/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = labbind
extension_drivers = port_security
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
firewall_driver = noop
EOF
# register labbind.py as an ML2 mechanism driver entry point (stevedore)
cp "$HERE/labbind.py" "$S/pylib/"
mkdir -p "$S/pylib/labbind-1.0.dist-info"
printf 'Metadata-Version: 2.1\nName: labbind\nVersion: 1.0\n' >"$S/pylib/labbind-1.0.dist-info/METADATA"
printf '[neutron.ml2.mechanism_drivers]\nlabbind = labbind:LabBindDriver\n' >"$S/pylib/labbind-1.0.dist-info/entry_points.txt"

# Backend section 'ceph' + volume_backend_name 'ceph' + host 'lab': lab@ceph#ceph
cat >"$S/etc/cinder/cinder.conf" <<EOF
[DEFAULT]
host = lab
my_ip = $IP
state_path = $S/cinder
transport_url = $RMQ
auth_strategy = keystone
osapi_volume_listen = $IP
osapi_volume_listen_port = 8776
osapi_volume_workers = 1
api_paste_config = /usr/share/cinder-common/api-paste.ini
glance_api_servers = http://$IP:9292
enabled_backends = ceph
default_volume_type = ceph
rootwrap_config = /etc/cinder/rootwrap.conf
[database]
connection = $DB/cinder
[oslo_concurrency]
lock_path = $S/lock
[ceph]
volume_driver = cinder.volume.drivers.rbd.RBDDriver
volume_backend_name = ceph
rbd_pool = volumes
rbd_ceph_conf = $CEPH_CONF
rbd_user = admin
rbd_secret_uuid = 00000000-0000-4000-8000-00000000cef0
image_volume_cache_enabled = false
$(authtoken)
$(svcauth nova)
EOF
phase "configs written"

# ---- 5. schemas (in parallel) + keystone bootstrap ----------------------------
(
  keystone-manage --config-file "$S/etc/keystone/keystone.conf" db_sync
  for k in fernet_setup credential_setup; do
    keystone-manage --config-file "$S/etc/keystone/keystone.conf" $k --keystone-user root --keystone-group root
  done
  # (the bootstrap password goes through the environment, not argv)
  OS_BOOTSTRAP_PASSWORD=$PW keystone-manage --config-file "$S/etc/keystone/keystone.conf" bootstrap \
    --bootstrap-region-id RegionOne --bootstrap-admin-url $KS/v3 --bootstrap-internal-url $KS/v3 \
    --bootstrap-public-url $KS/v3
) >"$S/log/keystone-manage.log" 2>&1 & J1=$!
(
  C="--config-file $S/etc/nova/nova.conf --config-file $S/etc/nova/nova-db.conf"
  nova-manage $C api_db sync && nova-manage $C cell_v2 map_cell0 &&
  nova-manage $C cell_v2 create_cell --name cell1 && nova-manage $C db sync
) >"$S/log/nova-manage.log" 2>&1 & J2=$!
neutron-db-manage --config-file "$S/etc/neutron/neutron.conf" --config-file "$S/etc/neutron/ml2_conf.ini" \
  upgrade heads >"$S/log/neutron-db-manage.log" 2>&1 & J3=$!
( glance-manage --config-file "$S/etc/glance/glance-api.conf" db_sync &&
  cinder-manage --config-file "$S/etc/cinder/cinder.conf" db sync &&
  placement-manage --config-file "$S/etc/placement/placement.conf" db sync ) >"$S/log/dbsync-other.log" 2>&1 & J4=$!
wait $J1 || die "keystone bootstrap failed: see $S/log/keystone-manage.log"
start keystone uwsgi --plugin python3 --http-socket $IP:5000 --wsgi-file /usr/bin/keystone-wsgi-public \
  --master --processes 2 --threads 1 --die-on-term --add-header 'Connection: close' \
  --env OS_KEYSTONE_CONFIG_FILES="$S/etc/keystone/keystone.conf"

# ---- 6. keystone: projects, users, roles, catalog (REST; before the services:
#         nova-conductor/scheduler exit if their placement credentials fail) ----
wait_http $KS/v3
# token USER PROJECT -> prints X-Subject-Token (request body on stdin, not argv)
token() { printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"%s","domain":{"id":"default"},"password":"%s"}}},"scope":{"project":{"name":"%s","domain":{"id":"default"}}}}}' "$1" "$PW" "$2" |
  curl -sf -D - -o /dev/null -H 'Content-Type: application/json' --data-binary @- $KS/v3/auth/tokens |
  awk 'tolower($1)=="x-subject-token:"{print $2}' | tr -d '\r'; }
TOK=$(token admin admin); [ -n "$TOK" ] || die "no admin token"
# api METHOD URL [JSON] -> response body (fails on HTTP error); token and body
# via stdin/config, never on argv
api() { local out
  if out=$(printf '%s' "${3:-}" | curl -s -w '\n%{http_code}' -X "$1" -K <(printf 'header = "X-Auth-Token: %s"\n' "$TOK") \
      -H 'Content-Type: application/json' ${3:+--data-binary @-} "$2") && [[ ${out##*$'\n'} == 2* ]]; then
    printf '%s\n' "${out%$'\n'*}"
  else die "$1 $2 failed: $out"; fi; }
mkid() { api POST "$KS/v3/$1" "$2" | jq -r ".${1%s}.id"; }
SVC_P=$(mkid projects '{"project":{"name":"service","domain_id":"default"}}')
DEMO_P=$(mkid projects '{"project":{"name":"demo","domain_id":"default"}}')
SVC_U=$(mkid users '{"user":{"name":"svc","domain_id":"default","password":"'$PW'"}}')
DEMO_U=$(mkid users '{"user":{"name":"demo","domain_id":"default","password":"'$PW'"}}')
SERVICE_R=$(mkid roles '{"role":{"name":"service"}}')
rid() { api GET "$KS/v3/roles?name=$1" | jq -r '.roles[0].id'; }
ADMIN_R=$(rid admin); MEMBER_R=$(rid member)
api PUT "$KS/v3/projects/$SVC_P/users/$SVC_U/roles/$ADMIN_R" >/dev/null
api PUT "$KS/v3/projects/$SVC_P/users/$SVC_U/roles/$SERVICE_R" >/dev/null
api PUT "$KS/v3/projects/$DEMO_P/users/$DEMO_U/roles/$MEMBER_R" >/dev/null
for s in "image glance http://$IP:9292" "volumev3 cinderv3 http://$IP:8776/v3/%(project_id)s" \
         "network neutron http://$IP:9696" "compute nova http://$IP:8774/v2.1" "placement placement http://$IP:8778"; do
  set -- $s
  sid=$(mkid services '{"service":{"type":"'$1'","name":"'$2'"}}')
  for itf in public internal; do
    api POST "$KS/v3/endpoints" '{"endpoint":{"service_id":"'$sid'","interface":"'$itf'","region_id":"RegionOne","url":"'$3'"}}' >/dev/null
  done
done
phase "keystone bootstrap + catalog (db syncs running meanwhile)"

# ---- 6b. start the services as their schemas become ready ----------------------
wait $J4 || die "glance/cinder/placement db sync failed: see $S/log/dbsync-other.log"
start placement uwsgi --plugin python3 --http-socket $IP:8778 --wsgi-file /usr/bin/placement-api \
  --master --processes 1 --threads 1 --die-on-term --add-header 'Connection: close' \
  --env OS_PLACEMENT_CONFIG_DIR="$S/etc/placement"
start glance-api glance-api --config-file "$S/etc/glance/glance-api.conf" --log-file "$S/log/glance-api.log"
CC="--config-file $S/etc/cinder/cinder.conf"
start cinder-api cinder-api $CC --log-file "$S/log/cinder-api.log"
start cinder-scheduler cinder-scheduler $CC --log-file "$S/log/cinder-scheduler.log"
start cinder-volume cinder-volume $CC --log-file "$S/log/cinder-volume.log"
wait $J3 || die "neutron db migration failed: see $S/log/neutron-db-manage.log"
start neutron-server env PYTHONPATH="$S/pylib" neutron-server --config-file "$S/etc/neutron/neutron.conf" \
  --config-file "$S/etc/neutron/ml2_conf.ini" --log-file "$S/log/neutron-server.log"
wait $J2 || die "nova db sync failed: see $S/log/nova-manage.log"
NC="--config-file $S/etc/nova/nova.conf --config-file $S/etc/nova/nova-db.conf"
for n in api conductor scheduler; do start nova-$n nova-$n $NC --log-file "$S/log/nova-$n.log"; done
start nova-compute nova-compute --config-file "$S/etc/nova/nova.conf" --log-file "$S/log/nova-compute.log"
phase "db schemas ready, services started"

# ---- 7. wait for services; map the compute host into cell1 ----------------------
for u in http://$IP:8778 http://$IP:9292 http://$IP:8776 http://$IP:9696 http://$IP:8774; do wait_http $u 300; done
ADMIN_P=$(api GET "$KS/v3/projects?name=admin" | jq -r '.projects[0].id')
up() { # URL JQ-FILTER: wait until a service list shows the binary 'up'
  for _ in $(seq 150); do api GET "$1" | jq -e "$2" >/dev/null && return 0; sleep 2; done; die "$1: not up"; }
up "http://$IP:8774/v2.1/os-services?binary=nova-compute" '.services[]|select(.state=="up")'
nova-manage $NC cell_v2 discover_hosts --strict >>"$S/log/nova-manage.log" 2>&1 || die "discover_hosts found no host"
up "http://$IP:8776/v3/$ADMIN_P/os-services?binary=cinder-volume" '.services[]|select(.state=="up")'
phase "services answering, compute host mapped"

# ---- 8. lab resources ------------------------------------------------------------
api POST "http://$IP:8774/v2.1/flavors" '{"flavor":{"name":"lab.small","id":"100","ram":512,"vcpus":1,"disk":1}}' >/dev/null
for t in ceph ceph-hdd; do
  api POST "http://$IP:8776/v3/$ADMIN_P/types" '{"volume_type":{"name":"'$t'","extra_specs":{"volume_backend_name":"ceph"}}}' >/dev/null
done
# no quota in the way of tests (several test files share the lab): unlimited
for p in "$ADMIN_P" "$DEMO_P"; do
  api PUT "http://$IP:8776/v3/$ADMIN_P/os-quota-sets/$p" '{"quota_set":{"volumes":-1,"gigabytes":-1,
    "snapshots":-1,"backups":-1,"backup_gigabytes":-1,"per_volume_gigabytes":-1,"groups":-1}}' >/dev/null
  api PUT "http://$IP:8774/v2.1/os-quota-sets/$p" '{"quota_set":{"instances":-1,"cores":-1,"ram":-1,
    "key_pairs":-1,"server_groups":-1,"server_group_members":-1,"metadata_items":-1}}' >/dev/null
  api PUT "http://$IP:9696/v2.0/quotas/$p" '{"quota":{"network":-1,"subnet":-1,"port":-1,
    "security_group":-1,"security_group_rule":-1}}' >/dev/null
done
TOK=$(token demo demo); [ -n "$TOK" ] || die "no demo token"
# Neutron hands out addresses of the allocation pool (.128-.254) to ports
# created without one; tests that name a fixed IP take it from .2-.127, so a
# port another test file creates at the same time can never take it.
net() { # NAME SUBNET-NAME PREFIX -> network id (subnet PREFIX.0/24)
  local id; id=$(api POST "http://$IP:9696/v2.0/networks" '{"network":{"name":"'$1'"}}' | jq -r .network.id)
  api POST "http://$IP:9696/v2.0/subnets" '{"subnet":{"name":"'$2'","network_id":"'$id'","ip_version":4,
    "cidr":"'$3'.0/24","allocation_pools":[{"start":"'$3'.128","end":"'$3'.254"}],
    "gateway_ip":null,"enable_dhcp":false}}' >/dev/null
  echo "$id"; }
NET=$(net lab-net lab-subnet 127.100.0)
NET2=$(net lab-net2 lab-subnet2 127.101.0)
sg() { # NAME PORT -> security group id (tcp PORT in)
  local id; id=$(api POST "http://$IP:9696/v2.0/security-groups" '{"security_group":{"name":"'$1'"}}' | jq -r .security_group.id)
  api POST "http://$IP:9696/v2.0/security-group-rules" '{"security_group_rule":{"security_group_id":"'$id'",
    "direction":"ingress","protocol":"tcp","port_range_min":'$2',"port_range_max":'$2',"ethertype":"IPv4"}}' >/dev/null
  echo "$id"; }
SG=$(sg lab-sg 22)
SG2=$(sg lab-sg2 443)
AC_SECRET=labsecret
AC=$(api POST "$KS/v3/users/$DEMO_U/application_credentials" \
  '{"application_credential":{"name":"lab-appcred","secret":"'$AC_SECRET'"}}' | jq -r .application_credential.id)

umask 077
cat >"$S/clouds.yaml" <<EOF
clouds:
  lab:          # demo user, project demo (password auth)
    auth: {auth_url: "$KS/v3", username: demo, password: "$PW", project_name: demo,
           user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
  lab-admin:    # cloud admin (cinder 'manage', flavors, volume types)
    auth: {auth_url: "$KS/v3", username: admin, password: "$PW", project_name: admin,
           user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
  lab-appcred:  # demo's application credential (scoped to project demo)
    auth_type: v3applicationcredential
    auth: {auth_url: "$KS/v3", application_credential_id: "$AC", application_credential_secret: "$AC_SECRET"}
    region_name: RegionOne
    identity_api_version: 3
EOF
cat >"$S/env" <<EOF
export FERRY_OSLAB=$S
export OS_CLIENT_CONFIG_FILE=$S/clouds.yaml OS_CLOUD=lab
export CEPH_CONF=$CEPH_CONF CEPH_FSID=$CEPH_FSID LAB_CEPH_PORT=$CEPH_PORT
export LAB_NET_ID=$NET LAB_NET2_ID=$NET2 LAB_SG_ID=$SG LAB_SG2_ID=$SG2
export LAB_APPCRED_ID=$AC LAB_APPCRED_SECRET=$AC_SECRET
export LAB_ADMIN_PROJECT_ID=$ADMIN_P LAB_DEMO_PROJECT_ID=$DEMO_P LAB_PASSWORD=$PW
export LAB_VOLUME_HOST='lab@ceph#ceph' LAB_VOLUME_POOL=volumes LAB_IMAGE_POOL=images
export LAB_AUTH_URL=$KS/v3
EOF
umask 022
phase "resources (flavor, volume types ceph/ceph-hdd, no quotas, 2 nets, 2 sgs, app credential)"
for f in "$S"/pids/*; do kill -0 "$(cat "$f")" 2>/dev/null || die "$(basename "$f") died: see $S/log/"; done
pg=$(cat "$S"/pids/* "$S"/ceph/pids/* 2>/dev/null | paste -sd'|')
echo "[up] RSS of the lab's processes: $(ps -eo pgid=,rss= | awk -v re="^($pg)\$" '$1~re{s+=$2}END{print int(s/1024)}') MiB"
date -u +%FT%TZ >"$S/ready"
echo "[up] ready in $(( $(date +%s) - T0 ))s.  source $S/env   (clouds: lab, lab-admin, lab-appcred)"
