#!/usr/bin/env bash
# A REAL single-node Slurm cluster (with accounting) on this machine, for the
# tests and for trying `snakemake --profile slurm` locally.
#
#   tests/slurm/local-cluster.sh start    install what is missing, start everything (idempotent)
#   tests/slurm/local-cluster.sh stop     stop every daemon this script starts
#   tests/slurm/local-cluster.sh status   exit 0 when the cluster accepts jobs
#
# Needs root and a Debian-like system (start exits with status 4 when packages are
# missing and cannot be installed; the tests then skip). There is no systemd
# here: every daemon is started directly. Accounting (slurmdbd + MariaDB) is not
# optional: the Snakemake Slurm plugin and submitit both poll job states with `sacct`.
set -euo pipefail

CLUSTER=${LMVSMT_SLURM_CLUSTER:-lmvsmt}
ACCOUNT=${LMVSMT_SLURM_ACCOUNT:-lmvsmt}
PARTITION=${LMVSMT_SLURM_PARTITION:-main}
DB_PASS=lmvsmt-slurmdbd      # local test database on 127.0.0.1 only
PACKAGES=(munge slurm-client slurmctld slurmd slurmdbd slurm-wlm-mysql-plugin mariadb-server)
ETC=/etc/slurm
LOGDIR=/var/log/slurm
SPOOL=/var/lib/slurm
RUN=/run/slurm
NODE=$(hostname -s)

log() { echo "[local-cluster] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# Exit status 4: the packages are missing and cannot be installed here (the tests skip).
cannot_install() { log "ERROR: $*"; exit 4; }

# Wait up to $1 seconds for the command in "${@:2}" to succeed.
wait_for() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || return 1
        sleep 0.2
    done
}

# True when the pid in file $1 is alive. A killed daemon may linger as a zombie
# (where nothing reaps orphans), which `kill -0` would still call alive.
pid_alive() {
    [[ -s $1 ]] || return 1
    local state
    state=$(ps -o stat= -p "$(cat "$1")" 2>/dev/null) || return 1
    [[ -n $state && $state != Z* ]]
}

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

install_packages() {
    local missing
    missing=$(missing_packages | tr '\n' ' ')
    [[ -z ${missing// /} ]] && return 0
    command -v apt-get >/dev/null || cannot_install "packages missing ($missing) and no apt-get to install them"
    log "installing: $missing"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not try to start daemons (no init system here).
    local policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # Wait for a concurrent apt/dpkg run instead of failing on its lock.
    local apt=(apt-get -q -o DPkg::Lock::Timeout=600)
    # `apt-get update` only when the package lists cannot serve the install.
    # shellcheck disable=SC2086
    if ! "${apt[@]}" install -y --no-install-recommends $missing >/tmp/lmvsmt-apt.log 2>&1; then
        log "install failed with the current package lists; running apt-get update"
        "${apt[@]}" update >>/tmp/lmvsmt-apt.log 2>&1 \
            || { tail -20 /tmp/lmvsmt-apt.log >&2; cannot_install "apt-get update failed"; }
        # shellcheck disable=SC2086
        "${apt[@]}" install -y --no-install-recommends $missing >>/tmp/lmvsmt-apt.log 2>&1 \
            || { tail -20 /tmp/lmvsmt-apt.log >&2; cannot_install "apt-get install failed (see /tmp/lmvsmt-apt.log)"; }
    fi
}

start_munge() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    pid_alive /run/munge/munged.pid && return 0
    runuser -u munge -- /usr/sbin/munged 9>&-
    wait_for 10 munge -n || die "munged did not start (see /var/log/munge/munged.log)"
}

mysql_up() { mariadb-admin --socket=/run/mysqld/mysqld.sock ping; }

start_mariadb() {
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    if ! mysql_up >/dev/null 2>&1; then
        setsid /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql \
            --bind-address=127.0.0.1 --socket=/run/mysqld/mysqld.sock \
            --pid-file=/run/mysqld/mysqld.pid --log-error="$LOGDIR/mariadb.log" \
            --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 \
            </dev/null >/dev/null 2>&1 9>&- &
        wait_for 60 mysql_up || die "MariaDB did not start (see $LOGDIR/mariadb.log)"
    fi
    mariadb --socket=/run/mysqld/mysqld.sock <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
}

# Writes $2 to $1 when different; returns 0 when the file changed.
update_file() {
    if [[ -f $1 ]] && [[ "$(cat "$1")" == "$2" ]]; then return 1; fi
    printf '%s\n' "$2" >"$1"
}

write_configs() {
    install -d -m 0755 "$ETC" "$LOGDIR" "$SPOOL/slurmctld" "$SPOOL/slurmd" "$RUN"
    # The node as slurmd sees it (CPUs, sockets, cores, memory), minus the uptime.
    local node_line
    node_line=$(slurmd -C | head -1 | sed 's/ *UpTime=.*//')
    [[ $node_line == NodeName=$NODE* ]] || die "unexpected 'slurmd -C' output: $node_line"
    local changed=1
    update_file "$ETC/slurm.conf" "# Written by tests/slurm/local-cluster.sh: single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# Credentials expire after 10 s instead of 120 s: a requeued job may only start
# again once its old credential has expired.
AuthInfo=cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SchedulerType=sched/backfill
# Short scheduler intervals: a requeued job (or a job whose begin time passed)
# starts within seconds instead of at the next 60 s main scheduling pass.
SchedulerParameters=sched_interval=2,bf_interval=1,sched_min_interval=100000
PriorityType=priority/basic
JobRequeue=1
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=300
# Generous: on a busy 2-core machine RPCs between the daemons can be slow.
MessageTimeout=30
SlurmctldTimeout=30
SlurmdTimeout=60
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageTRES=gres/gpu
# Snakemake puts the rule name in the job comment: keep it for sacct.
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
JobCompType=jobcomp/none
StateSaveLocation=$SPOOL/slurmctld
SlurmdSpoolDir=$SPOOL/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$node_line NodeAddr=127.0.0.1 Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP" && changed=0
    # One fake GPU (no device behind it) so that gpu=1 jobs can be scheduled.
    update_file "$ETC/gres.conf" "NodeName=$NODE Name=gpu File=/dev/null" && changed=0
    update_file "$ETC/slurmdbd.conf" "AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
DebugLevel=info
LogFile=$LOGDIR/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db" && changed=0
    # slurmdbd refuses a config that others can read (it holds the DB password).
    chmod 0600 "$ETC/slurmdbd.conf"
    return $changed
}

start_slurmdbd() {
    pid_alive "$RUN/slurmdbd.pid" || slurmdbd 9>&-
    wait_for 60 sacctmgr -n list cluster || die "slurmdbd did not answer (see $LOGDIR/slurmdbd.log)"
}

register_accounts() {
    if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null
    fi
    if [[ -z $(sacctmgr -n -P list account "$ACCOUNT" format=account) ]]; then
        sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" \
            description="lmvsmt test account" organization=lmvsmt >/dev/null
    fi
    local user
    for user in root ${SUDO_USER:-}; do
        if [[ -z $(sacctmgr -n -P list assoc user="$user" account="$ACCOUNT" cluster="$CLUSTER" format=user) ]]; then
            sacctmgr -i add user "$user" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
        fi
    done
}

node_ready() { sinfo -h -n "$NODE" -o %T | grep -Eq '^(idle|mixed|allocated|completing)'; }

start_slurm() {
    if ! pid_alive "$RUN/slurmctld.pid"; then
        # A controller that is not running took its jobs with it (an earlier stop, or a
        # machine that was killed or frozen). Its saved state may still list jobs as
        # running; recovered, they would hold the node for minutes until Slurm notices
        # they are gone. Start from a clean job state (-c) instead.
        slurmctld -c 9>&-
    fi
    wait_for 30 scontrol ping || die "slurmctld did not answer (see $LOGDIR/slurmctld.log)"
    pid_alive "$RUN/slurmd.pid" || slurmd 9>&-
    if ! wait_for 30 node_ready; then
        # A node left DOWN/DRAINED by an earlier unclean stop comes back here.
        scontrol update nodename="$NODE" state=resume 2>/dev/null || true
        wait_for 30 node_ready || die "node $NODE not ready: $(sinfo -h -N -o '%T %E') (see $LOGDIR/slurmd.log)"
    fi
}

stop_pidfile() {
    local file=$1 name=$2
    if pid_alive "$file"; then
        local pid; pid=$(cat "$file")
        kill "$pid"
        wait_for 30 bash -c "! kill -0 $pid" || { log "$name did not stop; killing it"; kill -9 "$pid" || true; }
    fi
}

do_start() {
    local t0=$SECONDS
    [[ $(id -u) == 0 ]] || die "must run as root"
    install_packages
    install -d -m 0755 "$LOGDIR"
    local restart=0
    write_configs && restart=1
    if ((restart)); then
        # New or changed configuration: running Slurm daemons must reread it.
        stop_pidfile "$RUN/slurmd.pid" slurmd
        stop_pidfile "$RUN/slurmctld.pid" slurmctld
    fi
    start_munge
    start_mariadb
    start_slurmdbd
    register_accounts
    start_slurm
    log "cluster '$CLUSTER' up in $((SECONDS - t0)) s: partition $PARTITION, node $NODE ($(sinfo -h -o '%c CPUs, %G'))"
}

do_stop() {
    [[ $(id -u) == 0 ]] || die "must run as root"
    stop_pidfile "$RUN/slurmd.pid" slurmd
    stop_pidfile "$RUN/slurmctld.pid" slurmctld
    stop_pidfile "$RUN/slurmdbd.pid" slurmdbd
    if mysql_up >/dev/null 2>&1; then
        mariadb-admin --socket=/run/mysqld/mysqld.sock shutdown
    fi
    stop_pidfile /run/munge/munged.pid munged
    log "stopped"
}

do_status() {
    local ok=0 d
    for d in "munged:/run/munge/munged.pid" "slurmdbd:$RUN/slurmdbd.pid" \
             "slurmctld:$RUN/slurmctld.pid" "slurmd:$RUN/slurmd.pid"; do
        if pid_alive "${d#*:}"; then echo "${d%%:*}: running"; else echo "${d%%:*}: stopped"; ok=3; fi
    done
    if mysql_up >/dev/null 2>&1; then echo "mariadb: running"; else echo "mariadb: stopped"; ok=3; fi
    if ((ok == 0)) && node_ready; then
        sinfo
    else
        ok=3
    fi
    return $ok
}

case ${1:-} in
    start|stop)
        # Several test sessions may call this at once: one at a time. (The
        # daemons are started with fd 9 closed so that they do not keep the lock.)
        exec 9>/run/lmvsmt-local-cluster.lock
        flock -w 600 9 || die "another start/stop holds /run/lmvsmt-local-cluster.lock"
        "do_$1" ;;
    status) do_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
